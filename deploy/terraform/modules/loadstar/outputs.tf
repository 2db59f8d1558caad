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
  description = "ARN of the EventBridge rule that runs the function on its schedule (the sweep, in events mode)."
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
    # Events mode only; null otherwise.
    event_dead_letters = one(aws_cloudwatch_metric_alarm.event_dead_letters[*].alarm_name)
    event_age          = one(aws_cloudwatch_metric_alarm.event_age[*].alarm_name)
  }
}

output "event_queue_url" {
  description = "URL of the queue S3 notifies of new objects (events mode with event_source \"sqs\"); null otherwise."
  value       = one(aws_sqs_queue.events[*].url)
}

output "event_queue_arn" {
  description = "ARN of the queue S3 notifies of new objects, for a notification configuration managed elsewhere (events mode with event_source \"sqs\"); null otherwise."
  value       = one(aws_sqs_queue.events[*].arn)
}

output "event_dlq_url" {
  description = "URL of the dead-letter queue of events given up (events mode); null in schedule mode."
  value       = one(aws_sqs_queue.event_dead_letters[*].url)
}

output "event_dlq_arn" {
  description = "ARN of the dead-letter queue of events given up (events mode); null in schedule mode."
  value       = one(aws_sqs_queue.event_dead_letters[*].arn)
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule matching the bucket's Object Created events (events mode with event_source \"eventbridge\"); null otherwise."
  value       = one(aws_cloudwatch_event_rule.object_created[*].arn)
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard; null when dashboard_enabled is false."
  value       = one(aws_cloudwatch_dashboard.loadstar[*].dashboard_name)
}
