terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.27 brought `state` to aws_cloudwatch_event_rule.
      version = ">= 5.27, < 7.0"
    }
  }
}
