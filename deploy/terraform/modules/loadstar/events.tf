# Events mode: a new object under a table prefix starts its load within
# seconds instead of waiting for the next scheduled run. S3 says so in one of
# two ways (event_source):
#
#   sqs          bucket notifications to a queue that Lambda polls, handing the
#                function batches of files at a bounded concurrency; a file
#                that fails comes back to the queue, and after five receives
#                goes to the dead-letter queue.
#   eventbridge  the bucket's EventBridge events, one asynchronous invocation
#                per object; for buckets whose events already go through
#                EventBridge, or whose notification configuration is spoken for.
#
# Either way the schedule keeps running, as a sweep that loads whatever the
# events did not.

# --- The event queue (event_source "sqs") ---------------------------------------------

# SSE-SQS rather than a KMS key: S3 cannot send to a queue encrypted with the
# AWS managed key alias/aws/sqs, whose key policy cannot be changed to admit
# s3.amazonaws.com, and a customer managed key would need a key policy for S3
# and EventBridge and kms:Decrypt for the function's role. With SSE-SQS the
# messages are encrypted at rest with keys SQS holds, and neither S3,
# EventBridge nor Lambda's poller needs a grant.
resource "aws_sqs_queue" "events" {
  count = local.sqs_events ? 1 : 0

  name                    = "${var.name}-events"
  sqs_managed_sse_enabled = true

  # Six times the function's timeout, as Lambda asks of a queue it polls: a
  # message stays hidden while its batch loads, and Lambda has time to retry a
  # throttled invocation before the batch's messages come back.
  visibility_timeout_seconds = 6 * var.timeout
  message_retention_seconds  = 345600 # 4 days; the dead-letter queue keeps longer

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.event_dead_letters[0].arn
    # Five loads of one file failing is not a passing fault: the message goes
    # where its alarm is seen, and the sweep goes on retrying the file.
    maxReceiveCount = 5
  })

  tags = var.tags
}

data "aws_iam_policy_document" "event_queue" {
  count = local.sqs_events ? 1 : 0

  # S3 delivers notifications as its service principal. Only this bucket, and
  # only while it is this account's: a bucket name is freed when its bucket is
  # deleted, and another account's bucket of the same name must not send here.
  statement {
    sid       = "BucketSendsObjectCreated"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events[0].arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  count = local.sqs_events ? 1 : 0

  queue_url = aws_sqs_queue.events[0].id
  policy    = data.aws_iam_policy_document.event_queue[0].json
}

resource "aws_lambda_event_source_mapping" "events" {
  count = local.sqs_events ? 1 : 0

  event_source_arn = aws_sqs_queue.events[0].arn
  function_name    = aws_lambda_function.loadstar.arn

  # The function answers with the messages whose files failed, and does not
  # raise: only those come back to the queue, not the whole batch.
  function_response_types = ["ReportBatchItemFailures"]

  batch_size                         = var.event_batch_size
  maximum_batching_window_in_seconds = var.event_batching_window_seconds

  # Each invocation holds a warehouse connection. The bound is here, on the
  # queue, rather than a reservation on the function, so that the sweep is
  # never throttled by the queue's invocations nor they by it.
  scaling_config {
    maximum_concurrency = var.event_maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.event_batch_size <= 10 || var.event_batching_window_seconds >= 1
      error_message = "event_batch_size above 10 needs event_batching_window_seconds of at least 1; Lambda refuses it otherwise."
    }
  }

  # Lambda checks, when the mapping is created, that the role may receive from
  # the queue.
  depends_on = [aws_iam_role_policy.function]
}

# --- Dead letters (both event sources) ------------------------------------------------

# Messages whose file failed five times (sqs), or events EventBridge could not
# deliver to the function (eventbridge). 14 days, the most SQS keeps, to find
# out why and redrive them; a standard queue's message keeps its first
# enqueue time when it moves here, so this must keep longer than the queue.
resource "aws_sqs_queue" "event_dead_letters" {
  count = local.events_mode ? 1 : 0

  name                      = "${var.name}-events-dead-letters"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600 # 14 days
  tags                      = var.tags
}

# Only the event queue may make this its dead-letter queue; with EventBridge
# no queue may.
resource "aws_sqs_queue_redrive_allow_policy" "event_dead_letters" {
  count = local.events_mode ? 1 : 0

  queue_url = aws_sqs_queue.event_dead_letters[0].id
  redrive_allow_policy = (
    local.sqs_events
    ? jsonencode({ redrivePermission = "byQueue", sourceQueueArns = aws_sqs_queue.events[*].arn })
    : jsonencode({ redrivePermission = "denyAll" })
  )
}

data "aws_iam_policy_document" "event_dead_letters" {
  count = local.eventbridge_events ? 1 : 0

  # EventBridge records an event it gave up delivering as its service
  # principal; only for the rule below.
  statement {
    sid       = "RuleRecordsUndeliveredEvents"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.event_dead_letters[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.object_created[0].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "event_dead_letters" {
  count = local.eventbridge_events ? 1 : 0

  queue_url = aws_sqs_queue.event_dead_letters[0].id
  policy    = data.aws_iam_policy_document.event_dead_letters[0].json
}

# --- The bucket's notifications -------------------------------------------------------

# S3 keeps one notification configuration per bucket, and this resource
# replaces all of it: with manage_bucket_notification false, whoever manages
# the bucket's other notifications adds these (see docs/deploying/events.md).
resource "aws_s3_bucket_notification" "events" {
  count = local.events_mode && var.manage_bucket_notification ? 1 : 0

  bucket      = var.bucket_name
  eventbridge = local.eventbridge_events

  # One entry per table prefix: S3 filters on one prefix and one suffix each.
  dynamic "queue" {
    for_each = local.sqs_events ? var.prefixes : []
    content {
      queue_arn     = aws_sqs_queue.events[0].arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = queue.value
      filter_suffix = var.suffix
    }
  }

  lifecycle {
    # S3 refuses two entries whose filters could both match one key.
    precondition {
      condition = !local.sqs_events || (
        length(distinct(var.prefixes)) == length(var.prefixes) &&
        alltrue([for a in var.prefixes : alltrue([for b in var.prefixes : a == b || !startswith(b, a)])])
      )
      error_message = "with event_source \"sqs\", no prefix may begin with another: S3 refuses overlapping notification filters."
    }
  }

  # S3 checks, when the configuration is written, that it may send to the
  # queue, and sends it a test event.
  depends_on = [aws_sqs_queue_policy.events]
}

# --- EventBridge (event_source "eventbridge") -----------------------------------------

locals {
  # The table prefixes as EventBridge patterns on the object's key: a prefix,
  # or with a suffix a wildcard, where "*" is any run of characters and a
  # backslash must be escaped (prefixes and suffix hold no "*").
  object_key_patterns = [
    for prefix in var.prefixes : var.suffix == null
    ? tomap({ prefix = prefix })
    : tomap({ wildcard = "${replace(prefix, "\\", "\\\\")}*${replace(var.suffix, "\\", "\\\\")}" })
  ]
}

resource "aws_cloudwatch_event_rule" "object_created" {
  count = local.eventbridge_events ? 1 : 0

  name        = "${var.name}-object-created"
  description = "Runs ${var.name} for each object created under its table prefixes in s3://${var.bucket_name}"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.bucket_name] }
      object = { key = local.object_key_patterns }
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "object_created" {
  count = local.eventbridge_events ? 1 : 0

  rule      = aws_cloudwatch_event_rule.object_created[0].name
  target_id = "loadstar"
  arn       = aws_lambda_function.loadstar.arn

  # Delivery only: once Lambda has accepted the event, its own retries and the
  # failed-invocations queue take over. An event undelivered for as long as
  # Lambda would have kept it is recorded in the dead-letter queue, whose
  # alarm says so; the sweep loads its file meanwhile.
  retry_policy {
    maximum_event_age_in_seconds = var.maximum_event_age_seconds
    maximum_retry_attempts       = 185 # EventBridge's most; the age bounds it
  }

  dead_letter_config {
    arn = aws_sqs_queue.event_dead_letters[0].arn
  }
}

resource "aws_lambda_permission" "object_created" {
  count = local.eventbridge_events ? 1 : 0

  statement_id  = "AllowObjectCreatedRuleToInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.loadstar.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.object_created[0].arn
}
