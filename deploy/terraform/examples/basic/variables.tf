variable "region" {
  description = "AWS region to deploy to; the bucket and the secret should be in it."
  type        = string
}

variable "name" {
  description = "Name of the function and prefix of the other resources' names."
  type        = string
  default     = "loadstar"
}

variable "bucket_name" {
  description = "The processed bucket."
  type        = string
}

variable "prefixes" {
  description = "Key prefixes of the tables; the default covers loadstar's built-in catalogue."
  type        = list(string)
  default     = ["dimension/", "fact/"]
}

variable "db_secret_arn" {
  description = "Full ARN of the Secrets Manager secret with the warehouse connection."
  type        = string
}

variable "secret_kms_key_arn" {
  description = "Customer managed KMS key of the secret, if it has one."
  type        = string
  default     = null
}

variable "config_path" {
  description = "TOML catalogue inside the package, such as /var/task/loadstar.toml; null for the built-in one."
  type        = string
  default     = null
}

variable "package_path" {
  description = "Deployment zip; null for dist/loadstar-lambda.zip in this repository."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Python runtime the package was built for."
  type        = string
  default     = "python3.11"
}

variable "architecture" {
  description = "x86_64 or arm64, as the package was built for."
  type        = string
  default     = "x86_64"
}

variable "mode" {
  description = "\"schedule\", or \"events\" to load each new file as it arrives."
  type        = string
  default     = "schedule"
}

variable "event_source" {
  description = "In events mode: \"sqs\" (a queue of bucket notifications) or \"eventbridge\"."
  type        = string
  default     = "sqs"
}

variable "manage_bucket_notification" {
  description = "In events mode: false when the bucket's notification configuration is managed elsewhere."
  type        = bool
  default     = true
}

variable "schedule_expression" {
  description = "How often loadstar runs; null for every 15 minutes, or hourly sweeps in events mode."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "Who is told when an alarm fires."
  type        = list(string)
  default     = []
}

variable "subnet_ids" {
  description = "Private subnets, for a warehouse in a VPC; empty for none."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function, with subnet_ids."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { Service = "loadstar" }
}
