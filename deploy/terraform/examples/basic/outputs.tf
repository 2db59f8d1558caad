output "function_name" {
  description = "Name of the Lambda function."
  value       = module.loadstar.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = module.loadstar.function_arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = module.loadstar.role_arn
}

output "log_group_name" {
  description = "The function's log group."
  value       = module.loadstar.log_group_name
}

output "sns_topic_arn" {
  description = "The alarm topic."
  value       = module.loadstar.sns_topic_arn
}

output "dlq_url" {
  description = "The failed-invocations queue."
  value       = module.loadstar.dlq_url
}

output "dlq_arn" {
  description = "ARN of the failed-invocations queue."
  value       = module.loadstar.dlq_arn
}

output "event_queue_arn" {
  description = "The queue S3 notifies in events mode with SQS; null otherwise."
  value       = module.loadstar.event_queue_arn
}

output "event_dlq_url" {
  description = "The dead-letter queue of events given up, in events mode; null otherwise."
  value       = module.loadstar.event_dlq_url
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of loadstar's metrics, alarms and failed files."
  value       = module.loadstar.dashboard_name
}
