# loadstar on a schedule, or on the bucket's events with an hourly sweep (mode),
# with its alarms, from the zip `make package` builds.
#
#   cp terraform.tfvars.example terraform.tfvars   # then fill it in
#   terraform init && terraform plan

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.27, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

module "loadstar" {
  source = "../../modules/loadstar"

  name               = var.name
  bucket_name        = var.bucket_name
  prefixes           = var.prefixes
  db_secret_arn      = var.db_secret_arn
  secret_kms_key_arn = var.secret_kms_key_arn
  config_path        = var.config_path
  package_path       = var.package_path

  runtime      = var.runtime
  architecture = var.architecture

  mode                       = var.mode
  event_source               = var.event_source
  manage_bucket_notification = var.manage_bucket_notification

  schedule_expression = var.schedule_expression
  alarm_emails        = var.alarm_emails

  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
}
