data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # The region's name under provider 5 and 6 alike (6 deprecates `name`).
  region = data.aws_region.current.id

  package_path = coalesce(var.package_path, "${path.module}/../../../../dist/loadstar-lambda.zip")
  in_vpc       = length(var.subnet_ids) > 0

  # In events mode a new object starts a load within seconds, and the schedule
  # only sweeps up what the events did not load (a file whose messages ran
  # out of receives, a key the suffix filter passed over), so it need not
  # come as often.
  events_mode         = var.mode == "events"
  sqs_events          = local.events_mode && var.event_source == "sqs"
  eventbridge_events  = local.events_mode && var.event_source == "eventbridge"
  schedule_expression = coalesce(var.schedule_expression, local.events_mode ? "rate(1 hour)" : "rate(15 minutes)")

  # The staleness alarms breach on a period without a run, so a period must
  # be longer than the schedule's interval: with hourly sweeps, an hour-long
  # period can fall between two sweeps' metrics and breach with nothing wrong.
  alarm_period_seconds = coalesce(var.alarm_period_seconds, local.events_mode ? 7200 : 3600)

  bucket_arn     = "arn:${local.partition}:s3:::${var.bucket_name}"
  log_group_name = "/aws/lambda/${var.name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  environment = merge(
    var.extra_environment,
    {
      LOADSTAR_BUCKET            = var.bucket_name
      LOADSTAR_DB_SECRET         = var.db_secret_arn
      LOADSTAR_SERVICE           = var.name
      LOADSTAR_METRICS_NAMESPACE = var.metrics_namespace
    },
    var.config_path == null ? {} : { LOADSTAR_CONFIG = var.config_path },
  )
}

# Created here rather than by Lambda on first run, so that the function needs
# no logs:CreateLogGroup and the retention and encryption are set from the start.
resource "aws_cloudwatch_log_group" "function" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.monitoring.arn
  tags              = var.tags
}

resource "aws_lambda_function" "loadstar" {
  # checkov:skip=CKV_AWS_115: no function-level reservation by default; per-table advisory locks make concurrent runs safe, the SQS mapping's maximum_concurrency bounds event-driven runs, and reserved_concurrent_executions sets one where wanted (EventBridge events).
  # checkov:skip=CKV_AWS_50: loadstar is not instrumented for X-Ray and a scheduled run has no caller's trace to join; its timings are in its metrics (DurationMs) and its JSON log lines.
  # checkov:skip=CKV_AWS_116: failed invocations go to the SQS queue through aws_lambda_function_event_invoke_config's on-failure destination, which records the error with the event; a dead_letter_config as well would deliver every failure twice.
  # checkov:skip=CKV_AWS_173: the environment holds names, not secrets (bucket, secret ARN, catalogue path, metrics namespace); the password stays in Secrets Manager, and Lambda encrypts the environment at rest with its AWS managed key.
  # checkov:skip=CKV_AWS_272: the package is the zip `make package` builds, uploaded directly; code signing would need it signed by AWS Signer and deployed from S3.
  function_name = var.name
  description   = "loadstar: loads pending Parquet files from s3://${var.bucket_name} into the warehouse, exactly once"
  role          = aws_iam_role.function.arn
  handler       = "loadstar.handler.lambda_handler"
  runtime       = var.runtime
  architectures = [var.architecture]

  filename         = local.package_path
  source_code_hash = filebase64sha256(local.package_path)

  memory_size = var.memory_size
  timeout     = var.timeout

  # No reservation by default. Runs may overlap: each table is loaded under
  # its own PostgreSQL advisory lock, so two runs never load one table at
  # once, and runs on different tables go side by side. With SQS events the
  # mapping's maximum concurrency bounds event-driven runs. A reservation
  # also takes executions from the account's pool, and an account still at a
  # small concurrency quota cannot reserve any.
  reserved_concurrent_executions = var.reserved_concurrent_executions

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }

  environment {
    variables = local.environment
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [true] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  lifecycle {
    precondition {
      condition     = (length(var.subnet_ids) == 0) == (length(var.security_group_ids) == 0)
      error_message = "subnet_ids and security_group_ids go together: set both to run in a VPC, or neither."
    }

    # Below the mapping's maximum concurrency, Lambda would throttle the
    # queue's invocations; their messages would come back and count towards
    # the dead-letter queue's five receives without ever failing. One more
    # execution leaves the sweep room to run.
    precondition {
      condition     = !local.sqs_events || var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions > var.event_maximum_concurrency, false)
      error_message = "with event_source \"sqs\", reserved_concurrent_executions must exceed event_maximum_concurrency (or be null)."
    }
  }

  tags = var.tags

  # The log group must exist before the first run, or its lines are lost (the
  # role may not create it); the VPC permissions must be in place before
  # Lambda creates the network interfaces.
  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.function,
    aws_iam_role_policy.vpc,
  ]
}

# --- The schedule -------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = "${var.name}-schedule"
  description         = "Runs ${var.name} to load pending files"
  schedule_expression = local.schedule_expression
  state               = var.schedule_enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "loadstar"
  arn       = aws_lambda_function.loadstar.arn
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "AllowScheduleToInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.loadstar.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}

# --- Failed invocations ---------------------------------------------------------

resource "aws_sqs_queue" "failed_invocations" {
  name                      = "${var.name}-failed-invocations"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps
  tags                      = var.tags
}

resource "aws_lambda_function_event_invoke_config" "loadstar" {
  function_name = aws_lambda_function.loadstar.function_name

  # Asynchronous invocations: the schedule's, and with EventBridge events each
  # object's (the SQS mapping invokes synchronously and retries through the
  # queue instead).
  #
  # 0 by default: a failed run leaves its files pending and the next scheduled
  # run retries them, whereas Lambda's retries come a minute or two later and
  # mostly meet the same fault. More attempts are safe (the ledger never loads
  # a file twice), only seldom useful.
  maximum_retry_attempts = var.maximum_retry_attempts

  # An invocation Lambda cannot run at once (throttled by the account's or
  # the function's concurrency limit) waits; one that has waited this long
  # lands in the queue below, whose alarm says so.
  maximum_event_age_in_seconds = var.maximum_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed_invocations.arn
    }
  }
}
