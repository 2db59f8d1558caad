output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.loadstar.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.loadstar.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.function.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.function.name
}

output "log_group_name" {
  description = "CloudWatch Logs group holding the function's logs and metrics documents."
  value       = aws_cloudwatch_log_group.function.name
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic every alarm notifies; subscribe further endpoints to it."
  value       = aws_sns_topic.alarms.arn
}

output "dlq_url" {
  description = "URL of the SQS queue holding failed invocations."
  value       = aws_sqs_queue.failed_invocations.url
}

output "dlq_arn" {
  description = "ARN of the SQS queue holding failed invocations."
  value       = aws_sqs_queue.failed_invocations.arn
}

output "schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the function."
  value       = aws_cloudwatch_event_rule.schedule.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the log group and the alarm topic."
  value       = aws_kms_key.monitoring.arn
}

output "alarm_names" {
  description = "Names of the alarms, by what they watch."
  value = {
    errors             = aws_cloudwatch_metric_alarm.errors.alarm_name
    stale              = aws_cloudwatch_metric_alarm.staleness["stale"].alarm_name
    backlog            = aws_cloudwatch_metric_alarm.staleness["backlog"].alarm_name
    failed_invocations = aws_cloudwatch_metric_alarm.failed_invocations.alarm_name
    needs_attention    = aws_cloudwatch_metric_alarm.attention.alarm_name
  }
}
