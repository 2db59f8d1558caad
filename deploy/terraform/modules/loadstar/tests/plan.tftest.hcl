# Plans of the module against a mocked AWS provider: what the HCL evaluates to,
# with no account and no network. `deploy/check-terraform` runs these where the
# AWS provider plugin is at hand.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { id = "eu-west-2" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
}

variables {
  bucket_name   = "terrific-totes-processed"
  db_secret_arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:loadstar/warehouse-AbCdEf"
  # A plan only hashes the package; any file stands in for the zip.
  package_path = "main.tf"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_lambda_function.loadstar.reserved_concurrent_executions == 1
    error_message = "runs must not overlap"
  }

  assert {
    condition = aws_lambda_function.loadstar.environment[0].variables == tomap({
      LOADSTAR_BUCKET            = "terrific-totes-processed"
      LOADSTAR_DB_SECRET         = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:loadstar/warehouse-AbCdEf"
      LOADSTAR_SERVICE           = "loadstar"
      LOADSTAR_METRICS_NAMESPACE = "Loadstar"
    })
    error_message = "the environment is the bucket, the secret, the service and the namespace; no catalogue by default"
  }

  assert {
    condition     = length(aws_lambda_function.loadstar.vpc_config) == 0 && length(aws_iam_role_policy.vpc) == 0 && length(data.aws_iam_policy_document.vpc) == 0
    error_message = "no VPC, and no network-interface permissions, unless subnets are given"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.function.statement : sort(one(s.condition).values)
      if s.sid == "ListTablePrefixes"
    ] == [tolist(["dimension/*", "fact/*"])]
    error_message = "listing is limited to the table prefixes"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.function.statement : s.resources
      if s.sid == "ReadAndTagTableFiles"
      ] == [toset([
        "arn:aws:s3:::terrific-totes-processed/dimension/*",
        "arn:aws:s3:::terrific-totes-processed/fact/*",
    ])]
    error_message = "objects are read and tagged under the table prefixes only"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.function.statement : s.resources
      if s.sid == "WriteOwnLogs"
    ] == [toset(["arn:aws:logs:eu-west-2:123456789012:log-group:/aws/lambda/loadstar:*"])]
    error_message = "logs go to the function's own log group"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.function.statement : s if contains(s.actions, "kms:Decrypt")]) == 0
    error_message = "no kms:Decrypt without a key"
  }

  assert {
    condition     = aws_cloudwatch_log_group.function.name == "/aws/lambda/loadstar"
    error_message = "the log group is the one Lambda writes to"
  }

  assert {
    condition = {
      for key, alarm in aws_cloudwatch_metric_alarm.staleness :
      key => [alarm.alarm_name, alarm.metric_name, alarm.threshold, alarm.actions_enabled]
      } == {
      stale   = ["loadstar-stale", "NewestLoadedAgeSeconds", 86400, true]
      backlog = ["loadstar-backlog", "OldestPendingAgeSeconds", 3600, true]
    }
    error_message = "the stale and backlog alarms watch their own metric, each with its own threshold"
  }

  assert {
    condition     = output.alarm_names.stale == "loadstar-stale" && output.alarm_names.backlog == "loadstar-backlog"
    error_message = "the alarm_names output names the stale and backlog alarms"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.attention.metric_name == "FilesNeedingAttention" &&
      aws_cloudwatch_metric_alarm.attention.threshold == 0 &&
      output.alarm_names.needs_attention == "loadstar-needs-attention"
    )
    error_message = "a file needing attention raises its own alarm"
  }
}

run "in_a_vpc_with_a_catalogue_and_a_secret_key" {
  command = plan

  variables {
    subnet_ids         = ["subnet-0123456789abcdef0"]
    security_group_ids = ["sg-0123456789abcdef0"]
    config_path        = "/var/task/loadstar.toml"
    secret_kms_key_arn = "arn:aws:kms:eu-west-2:123456789012:key/example-secret-key"
  }

  assert {
    condition     = length(aws_lambda_function.loadstar.vpc_config) == 1 && length(aws_iam_role_policy.vpc) == 1
    error_message = "subnets put the function in the VPC, with the network-interface permissions"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.vpc[0].statement : s.resources
      if s.sid == "CreateInterfacesInOwnSubnets"
      ] == [toset([
        "arn:aws:ec2:eu-west-2:123456789012:network-interface/*",
        "arn:aws:ec2:eu-west-2:123456789012:subnet/subnet-0123456789abcdef0",
        "arn:aws:ec2:eu-west-2:123456789012:security-group/sg-0123456789abcdef0",
    ])]
    error_message = "interfaces are created only in the given subnets and security groups"
  }

  assert {
    condition     = aws_lambda_function.loadstar.environment[0].variables["LOADSTAR_CONFIG"] == "/var/task/loadstar.toml"
    error_message = "the catalogue path reaches the function"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.function.statement : [sort(s.resources), sort(one(s.condition).values)]
      if s.sid == "DecryptWarehouseSecret"
      ] == [[
        tolist(["arn:aws:kms:eu-west-2:123456789012:key/example-secret-key"]),
        tolist(["secretsmanager.eu-west-2.amazonaws.com"]),
    ]]
    error_message = "the secret's key may be used, through Secrets Manager only"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.function.statement : s if contains(s.actions, "kms:Decrypt")]) == 1
    error_message = "no kms:Decrypt for the bucket without its key"
  }
}

run "with_a_bucket_key" {
  command = plan

  variables {
    bucket_kms_key_arn = "arn:aws:kms:eu-west-2:123456789012:key/example-bucket-key"
    schedule_enabled   = false
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.function.statement : [s.sid, sort(s.resources), sort(one(s.condition).values)]
      if contains(s.actions, "kms:Decrypt")
      ] == [[
        "DecryptTableFiles",
        tolist(["arn:aws:kms:eu-west-2:123456789012:key/example-bucket-key"]),
        tolist(["s3.eu-west-2.amazonaws.com"]),
    ]]
    error_message = "the bucket's key may be used, through S3 only, and no secret key is granted without one"
  }

  assert {
    condition     = [for alarm in aws_cloudwatch_metric_alarm.staleness : alarm.actions_enabled] == [false, false]
    error_message = "with the schedule off, the stale and backlog alarms do not notify"
  }
}

run "subnets_without_security_groups_are_refused" {
  command = plan

  variables {
    subnet_ids = ["subnet-0123456789abcdef0"]
  }

  expect_failures = [aws_lambda_function.loadstar]
}

run "wildcards_in_prefixes_are_refused" {
  command = plan

  variables {
    prefixes = ["dimension/*"]
  }

  expect_failures = [var.prefixes]
}

run "the_modules_own_environment_cannot_be_overridden" {
  command = plan

  variables {
    extra_environment = { LOADSTAR_SERVICE = "other" }
  }

  expect_failures = [var.extra_environment]
}
