# --- Encryption of the log group and the alarm topic -----------------------------
#
# A key of this module's own, because CloudWatch alarms cannot publish to a
# topic encrypted with the AWS managed key alias/aws/sns: its key policy
# cannot be changed to let cloudwatch.amazonaws.com use it, and notifications
# would be dropped without an error.

data "aws_iam_policy_document" "monitoring_key" {
  # checkov:skip=CKV_AWS_109: a key policy's only resource is "*", meaning this key; the account's administrators keep its management (PutKeyPolicy among it) so that the key can never become unmanageable.
  # checkov:skip=CKV_AWS_111: a key policy's only resource is "*", meaning this key; the write actions are the account's management of this key.
  # checkov:skip=CKV_AWS_356: a key policy's only resource is "*", meaning this key; AWS accepts nothing narrower in a key policy.

  # Management by the account's administrators through IAM; no use of the key.
  statement {
    sid    = "AccountManagesKey"
    effect = "Allow"

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:RevokeGrant",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    # In a key policy "*" is the key itself: nothing narrower can be named.
    resources = ["*"]
  }

  # This function's alarms publishing to the encrypted topic.
  statement {
    sid    = "AlarmsPublishToTopic"
    effect = "Allow"

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    actions = ["kms:Decrypt", "kms:GenerateDataKey*"]
    # In a key policy "*" is the key itself: nothing narrower can be named.
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"]
    }
  }

  # CloudWatch Logs encrypting this function's log group, and no other.
  statement {
    sid    = "LogsEncryptOwnLogGroup"
    effect = "Allow"

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    # In a key policy "*" is the key itself: nothing narrower can be named.
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.log_group_arn]
    }
  }
}

resource "aws_kms_key" "monitoring" {
  description             = "${var.name}: encrypts its log group and its alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.monitoring_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "monitoring" {
  name          = "alias/${var.name}-monitoring"
  target_key_id = aws_kms_key.monitoring.key_id
}

# --- Where alarms go --------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.monitoring.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Alarms -------------------------------------------------------------------------

# The function raises when any file failed, so an error is a failed load (or a
# run that could not start: bad settings, no secret, no warehouse). No
# invocation means no data, which says nothing about failure: notBreaching.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "A ${var.name} run failed: a file could not be loaded, or the run could not start. Its run_failed or run_finished log line names the file and the error; failed files are retried on every run."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.loadstar.function_name }
  statistic           = "Sum"
  period              = local.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# loadstar's own metrics come once per run, from a run that got as far as
# listing the bucket. A whole period without them means no run got that far:
# the schedule stopped, the function is gone or throttled, or every run fails
# before listing. That is as stale as a warehouse gets, so missing data
# breaches. Silenced with the schedule, when no runs are expected.
#
# Two alarms, <name>-stale and <name>-backlog, alike but for the metric and
# its threshold.
locals {
  staleness_alarms = {
    stale = {
      description = "Nothing new has been loaded by ${var.name} for longer than the threshold, or no run has reported at all. Check that files still arrive in the bucket and that runs complete."
      metric_name = "NewestLoadedAgeSeconds"
      threshold   = var.newest_loaded_age_threshold_seconds
    }
    backlog = {
      description = "A file has waited longer than the threshold to be loaded by ${var.name}, or no run has reported at all: runs are falling behind, or one file keeps failing."
      metric_name = "OldestPendingAgeSeconds"
      threshold   = var.oldest_pending_age_threshold_seconds
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "staleness" {
  for_each = local.staleness_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric_name
  dimensions          = { Service = var.name }
  statistic           = "Maximum"
  period              = local.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "breaching"
  actions_enabled     = var.schedule_enabled
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failed_invocations" {
  alarm_name          = "${var.name}-failed-invocations"
  alarm_description   = "An invocation of ${var.name} was given up: it failed every attempt, or waited too long to run. The queue's messages carry the error and the event."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failed_invocations.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# Events mode: an event given up. With SQS, a file failed five loads in a row;
# with EventBridge, an event could not be delivered to the function. The sweep
# still retries the file, but something keeps it from loading.
resource "aws_cloudwatch_metric_alarm" "event_dead_letters" {
  count = local.events_mode ? 1 : 0

  alarm_name          = "${var.name}-event-dead-letters"
  alarm_description   = "An event for ${var.name} was given up and kept in its dead-letter queue: a file failed five times, or EventBridge could not deliver the event. Each message is the event; the function's log says why the file failed."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.event_dead_letters[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# Events mode with SQS: the oldest message not yet deleted has waited too long.
# A message is deleted only once its batch has loaded, so this fires when
# loads are slow, when the queue's invocations are throttled or fail before
# answering, or when a file fails and its message waits out the visibility
# timeout. No messages, no data: notBreaching.
resource "aws_cloudwatch_metric_alarm" "event_age" {
  count = local.sqs_events ? 1 : 0

  alarm_name          = "${var.name}-event-age"
  alarm_description   = "The oldest message in the ${var.name} event queue is older than the threshold: new files are not being loaded as they arrive. Check the function's errors and throttles, and its log for failed files."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.events[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.event_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# A file changed after it was loaded, or a dimension file arrived older than
# one already applied: nothing failed, but the warehouse may not hold what the
# bucket says. The run's summary and its file_skipped line give the command
# that resolves each (`loadstar replay`).
resource "aws_cloudwatch_metric_alarm" "attention" {
  alarm_name          = "${var.name}-needs-attention"
  alarm_description   = "A ${var.name} run found a file an operator must decide about: changed after it was loaded, or older than a file already applied. The run's needs_attention list names each file and the command that resolves it."
  namespace           = var.metrics_namespace
  metric_name         = "FilesNeedingAttention"
  dimensions          = { Service = var.name }
  statistic           = "Maximum"
  period              = local.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}
