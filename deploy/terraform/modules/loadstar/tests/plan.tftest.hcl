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

# The event resources' ARNs, known at plan so that the policies naming them can
# be compared.
override_resource {
  target          = aws_sqs_queue.events
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-2:123456789012:loadstar-events"
    url = "https://sqs.eu-west-2.amazonaws.com/123456789012/loadstar-events"
  }
}

override_resource {
  target          = aws_sqs_queue.event_dead_letters
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-2:123456789012:loadstar-events-dead-letters"
    url = "https://sqs.eu-west-2.amazonaws.com/123456789012/loadstar-events-dead-letters"
  }
}

override_resource {
  target          = aws_cloudwatch_event_rule.object_created
  override_during = plan
  values = {
    arn = "arn:aws:events:eu-west-2:123456789012:rule/loadstar-object-created"
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
    condition     = aws_lambda_function.loadstar.reserved_concurrent_executions == null
    error_message = "no executions are reserved: per-table locks make overlapping runs safe"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.schedule.schedule_expression == "rate(15 minutes)"
    error_message = "schedule mode runs every 15 minutes by default"
  }

  assert {
    condition = (
      length(aws_sqs_queue.events) + length(aws_sqs_queue.event_dead_letters) +
      length(aws_sqs_queue_policy.events) + length(aws_sqs_queue_policy.event_dead_letters) +
      length(aws_sqs_queue_redrive_allow_policy.event_dead_letters) +
      length(aws_lambda_event_source_mapping.events) + length(aws_s3_bucket_notification.events) +
      length(aws_cloudwatch_event_rule.object_created) + length(aws_cloudwatch_event_target.object_created) +
      length(aws_lambda_permission.object_created) +
      length(aws_cloudwatch_metric_alarm.event_dead_letters) + length(aws_cloudwatch_metric_alarm.event_age)
    ) == 0
    error_message = "schedule mode creates none of the event resources"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.function.statement : s if s.sid == "ConsumeEventQueue"]) == 0
    error_message = "schedule mode grants nothing on an event queue"
  }

  assert {
    condition = (
      output.event_queue_url == null && output.event_queue_arn == null &&
      output.event_dlq_url == null && output.event_dlq_arn == null && output.event_rule_arn == null &&
      output.alarm_names.event_dead_letters == null && output.alarm_names.event_age == null
    )
    error_message = "the event outputs are null in schedule mode"
  }

  assert {
    condition     = [for alarm in aws_cloudwatch_metric_alarm.staleness : alarm.period] == [3600, 3600]
    error_message = "the staleness alarms look at an hour, four scheduled runs"
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

run "events_from_a_queue" {
  command = plan

  variables {
    mode = "events"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.events[0].event_source_arn == "arn:aws:sqs:eu-west-2:123456789012:loadstar-events"
    error_message = "the function polls the event queue"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.events[0].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "the function reports the messages that failed, not the batch"
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.events[0].batch_size == 100 &&
      aws_lambda_event_source_mapping.events[0].maximum_batching_window_in_seconds == 10 &&
      aws_lambda_event_source_mapping.events[0].scaling_config[0].maximum_concurrency == 2
    )
    error_message = "batches of up to 100 gathered for up to 10 s, at most 2 at once"
  }

  assert {
    condition     = aws_sqs_queue.events[0].visibility_timeout_seconds == 6 * 900
    error_message = "the queue's visibility timeout is six times the function's timeout"
  }

  assert {
    condition = jsondecode(aws_sqs_queue.events[0].redrive_policy) == {
      deadLetterTargetArn = "arn:aws:sqs:eu-west-2:123456789012:loadstar-events-dead-letters"
      maxReceiveCount     = 5
    }
    error_message = "a message received five times goes to the dead-letter queue"
  }

  assert {
    condition = (
      aws_sqs_queue.events[0].sqs_managed_sse_enabled &&
      aws_sqs_queue.event_dead_letters[0].sqs_managed_sse_enabled &&
      aws_sqs_queue.event_dead_letters[0].message_retention_seconds == 1209600 &&
      aws_sqs_queue.event_dead_letters[0].message_retention_seconds > aws_sqs_queue.events[0].message_retention_seconds
    )
    error_message = "both queues are encrypted, and dead letters are kept 14 days, longer than the queue keeps"
  }

  assert {
    condition = jsondecode(aws_sqs_queue_redrive_allow_policy.event_dead_letters[0].redrive_allow_policy) == {
      redrivePermission = "byQueue"
      sourceQueueArns   = ["arn:aws:sqs:eu-west-2:123456789012:loadstar-events"]
    }
    error_message = "only the event queue may use the dead-letter queue"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.event_queue[0].statement : [
        s.actions, s.resources, [for p in s.principals : [p.type, p.identifiers]],
        { for c in s.condition : c.variable => [c.test, c.values] },
      ]
      ] == [[
        toset(["sqs:SendMessage"]),
        toset(["arn:aws:sqs:eu-west-2:123456789012:loadstar-events"]),
        [["Service", toset(["s3.amazonaws.com"])]],
        {
          "aws:SourceArn"     = ["ArnEquals", tolist(["arn:aws:s3:::terrific-totes-processed"])]
          "aws:SourceAccount" = ["StringEquals", tolist(["123456789012"])]
        },
    ]]
    error_message = "only S3 may send to the queue, only from this bucket and this account"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.function.statement : [sort(s.actions), s.resources]
      if anytrue([for a in s.actions : startswith(a, "sqs:") && a != "sqs:SendMessage"])
      ] == [[
        tolist(["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]),
        toset(["arn:aws:sqs:eu-west-2:123456789012:loadstar-events"]),
    ]]
    error_message = "the role consumes its own queue and nothing else"
  }

  assert {
    condition = (
      aws_s3_bucket_notification.events[0].bucket == "terrific-totes-processed" &&
      !aws_s3_bucket_notification.events[0].eventbridge &&
      [for q in aws_s3_bucket_notification.events[0].queue : [q.queue_arn, q.events, q.filter_prefix, q.filter_suffix]] == [
        ["arn:aws:sqs:eu-west-2:123456789012:loadstar-events", toset(["s3:ObjectCreated:*"]), "dimension/", ".parquet"],
        ["arn:aws:sqs:eu-west-2:123456789012:loadstar-events", toset(["s3:ObjectCreated:*"]), "fact/", ".parquet"],
      ]
    )
    error_message = "the bucket notifies the queue of every object created under each table prefix, Parquet files only"
  }

  assert {
    condition     = aws_lambda_function.loadstar.reserved_concurrent_executions == null
    error_message = "no reserved concurrency: the mapping bounds event-driven runs"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.schedule.schedule_expression == "rate(1 hour)" && aws_cloudwatch_event_rule.schedule.state == "ENABLED"
    error_message = "events mode sweeps hourly by default"
  }

  assert {
    condition     = [for alarm in aws_cloudwatch_metric_alarm.staleness : alarm.period] == [7200, 7200]
    error_message = "with hourly sweeps, the staleness alarms look at two hours"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.event_dead_letters[0].alarm_name == "loadstar-event-dead-letters" &&
      aws_cloudwatch_metric_alarm.event_dead_letters[0].metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_cloudwatch_metric_alarm.event_dead_letters[0].dimensions == tomap({ QueueName = "loadstar-events-dead-letters" }) &&
      aws_cloudwatch_metric_alarm.event_dead_letters[0].threshold == 0 &&
      output.alarm_names.event_dead_letters == "loadstar-event-dead-letters"
    )
    error_message = "any message in the dead-letter queue raises an alarm"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.event_age[0].alarm_name == "loadstar-event-age" &&
      aws_cloudwatch_metric_alarm.event_age[0].metric_name == "ApproximateAgeOfOldestMessage" &&
      aws_cloudwatch_metric_alarm.event_age[0].dimensions == tomap({ QueueName = "loadstar-events" }) &&
      aws_cloudwatch_metric_alarm.event_age[0].threshold == 300 &&
      output.alarm_names.event_age == "loadstar-event-age"
    )
    error_message = "a message older than five minutes raises an alarm"
  }

  assert {
    condition = (
      output.event_queue_arn == "arn:aws:sqs:eu-west-2:123456789012:loadstar-events" &&
      output.event_queue_url == "https://sqs.eu-west-2.amazonaws.com/123456789012/loadstar-events" &&
      output.event_dlq_arn == "arn:aws:sqs:eu-west-2:123456789012:loadstar-events-dead-letters" &&
      output.event_dlq_url == "https://sqs.eu-west-2.amazonaws.com/123456789012/loadstar-events-dead-letters" &&
      output.event_rule_arn == null
    )
    error_message = "the outputs name the queue and the dead-letter queue"
  }

  assert {
    condition = (
      length(aws_cloudwatch_event_rule.object_created) + length(aws_cloudwatch_event_target.object_created) +
      length(aws_lambda_permission.object_created) + length(aws_sqs_queue_policy.event_dead_letters)
    ) == 0
    error_message = "no EventBridge rule for objects with the queue"
  }
}

run "events_from_a_queue_tuned_with_the_notification_managed_elsewhere" {
  command = plan

  variables {
    mode                           = "events"
    timeout                        = 120
    event_batch_size               = 10
    event_batching_window_seconds  = 0
    event_maximum_concurrency      = 5
    reserved_concurrent_executions = 6
    event_age_threshold_seconds    = 900
    schedule_expression            = "rate(30 minutes)"
    alarm_period_seconds           = 3600
    manage_bucket_notification     = false
  }

  assert {
    condition = (
      aws_sqs_queue.events[0].visibility_timeout_seconds == 720 &&
      aws_lambda_event_source_mapping.events[0].batch_size == 10 &&
      aws_lambda_event_source_mapping.events[0].maximum_batching_window_in_seconds == 0 &&
      aws_lambda_event_source_mapping.events[0].scaling_config[0].maximum_concurrency == 5 &&
      aws_lambda_function.loadstar.reserved_concurrent_executions == 6 &&
      aws_cloudwatch_metric_alarm.event_age[0].threshold == 900
    )
    error_message = "the variables reach the queue, the mapping, the function and the alarm"
  }

  assert {
    condition = (
      aws_cloudwatch_event_rule.schedule.schedule_expression == "rate(30 minutes)" &&
      [for alarm in aws_cloudwatch_metric_alarm.staleness : alarm.period] == [3600, 3600]
    )
    error_message = "a schedule and an alarm period given are kept in events mode"
  }

  assert {
    condition     = length(aws_s3_bucket_notification.events) == 0 && length(aws_sqs_queue_policy.events) == 1
    error_message = "the bucket's notifications are left alone, and the queue still admits the bucket"
  }
}

run "events_from_eventbridge" {
  command = plan

  variables {
    mode         = "events"
    event_source = "eventbridge"
  }

  assert {
    condition = (
      aws_s3_bucket_notification.events[0].eventbridge &&
      length(aws_s3_bucket_notification.events[0].queue) == 0
    )
    error_message = "the bucket sends its events to EventBridge, and to no queue"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.object_created[0].event_pattern) == {
      source        = ["aws.s3"]
      "detail-type" = ["Object Created"]
      detail = {
        bucket = { name = ["terrific-totes-processed"] }
        object = { key = [{ wildcard = "dimension/*.parquet" }, { wildcard = "fact/*.parquet" }] }
      }
    }
    error_message = "the rule matches objects created in this bucket under the table prefixes, Parquet files only"
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.object_created[0].rule == "loadstar-object-created" &&
      aws_cloudwatch_event_target.object_created[0].dead_letter_config[0].arn == "arn:aws:sqs:eu-west-2:123456789012:loadstar-events-dead-letters" &&
      aws_cloudwatch_event_target.object_created[0].retry_policy[0].maximum_event_age_in_seconds == 3600 &&
      aws_cloudwatch_event_target.object_created[0].retry_policy[0].maximum_retry_attempts == 185
    )
    error_message = "undeliverable events go to the dead-letter queue after an hour of retries"
  }

  assert {
    condition = (
      aws_lambda_permission.object_created[0].principal == "events.amazonaws.com" &&
      aws_lambda_permission.object_created[0].source_arn == "arn:aws:events:eu-west-2:123456789012:rule/loadstar-object-created"
    )
    error_message = "only the object rule may invoke the function for events"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.event_dead_letters[0].statement : [
        s.actions, s.resources, [for p in s.principals : [p.type, p.identifiers]],
        [for c in s.condition : [c.test, c.variable, c.values]],
      ]
      ] == [[
        toset(["sqs:SendMessage"]),
        toset(["arn:aws:sqs:eu-west-2:123456789012:loadstar-events-dead-letters"]),
        [["Service", toset(["events.amazonaws.com"])]],
        [["ArnEquals", "aws:SourceArn", tolist(["arn:aws:events:eu-west-2:123456789012:rule/loadstar-object-created"])]],
    ]]
    error_message = "only EventBridge, for the object rule, may send to the dead-letter queue"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.event_dead_letters[0].redrive_allow_policy) == { redrivePermission = "denyAll" }
    error_message = "no queue may use the EventBridge dead-letter queue as its own"
  }

  assert {
    condition = (
      length(aws_sqs_queue.events) + length(aws_lambda_event_source_mapping.events) +
      length(aws_sqs_queue_policy.events) + length(aws_cloudwatch_metric_alarm.event_age)
    ) == 0
    error_message = "no event queue with EventBridge"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.function.statement : s if s.sid == "ConsumeEventQueue"]) == 0
    error_message = "with EventBridge the role consumes no queue"
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.event_dead_letters) == 1 &&
      output.alarm_names.event_dead_letters == "loadstar-event-dead-letters" &&
      output.alarm_names.event_age == null &&
      output.event_queue_arn == null &&
      output.event_rule_arn == "arn:aws:events:eu-west-2:123456789012:rule/loadstar-object-created"
    )
    error_message = "the dead-letter alarm, and no queue, with EventBridge"
  }

  assert {
    condition     = aws_lambda_function.loadstar.reserved_concurrent_executions == null && aws_cloudwatch_event_rule.schedule.schedule_expression == "rate(1 hour)"
    error_message = "no reserved concurrency unless asked for, and an hourly sweep"
  }
}

run "events_from_eventbridge_for_keys_without_a_suffix" {
  command = plan

  variables {
    mode         = "events"
    event_source = "eventbridge"
    suffix       = null
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.object_created[0].event_pattern).detail.object.key == [
      { prefix = "dimension/" }, { prefix = "fact/" },
    ]
    error_message = "without a suffix the rule matches the table prefixes alone"
  }
}

run "a_reservation_below_the_queues_concurrency_is_refused" {
  command = plan

  variables {
    mode                           = "events"
    event_maximum_concurrency      = 4
    reserved_concurrent_executions = 4
  }

  expect_failures = [aws_lambda_function.loadstar]
}

run "large_batches_without_a_window_are_refused" {
  command = plan

  variables {
    mode                          = "events"
    event_batch_size              = 11
    event_batching_window_seconds = 0
  }

  expect_failures = [aws_lambda_event_source_mapping.events]
}

run "overlapping_prefixes_are_refused_for_notifications" {
  command = plan

  variables {
    mode     = "events"
    prefixes = ["dimension/", "dimension/staff"]
  }

  expect_failures = [aws_s3_bucket_notification.events]
}

run "a_queue_concurrency_below_two_is_refused" {
  command = plan

  variables {
    mode                      = "events"
    event_maximum_concurrency = 1
  }

  expect_failures = [var.event_maximum_concurrency]
}

run "an_unknown_mode_is_refused" {
  command = plan

  variables {
    mode = "stream"
  }

  expect_failures = [var.mode]
}

run "the_dashboard_graphs_loadstars_metrics_and_every_table" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_dashboard.loadstar) == 1 && output.dashboard_name == "loadstar"
    error_message = "a dashboard by default, named like the function"
  }

  assert {
    condition = tolist([
      for w in jsondecode(aws_cloudwatch_dashboard.loadstar[0].dashboard_body).widgets : w.properties.title
      if w.type == "metric" && w.y >= 26
    ]) == var.dashboard_tables
    error_message = "one graph per table of dashboard_tables, below the overview"
  }

  assert {
    condition = alltrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.loadstar[0].dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) :
        (m[0] == "Loadstar" && m[2] == "Service" && m[3] == "loadstar") || (m[0] == "AWS/Lambda" && m[3] == "loadstar")
      ]
    ]))
    error_message = "every graph reads the namespace and Service the function reports under, or the function's own Lambda metrics"
  }

  assert {
    condition = length(one([
      for w in jsondecode(aws_cloudwatch_dashboard.loadstar[0].dashboard_body).widgets : w.properties.alarms
      if w.type == "alarm"
    ])) == 5
    error_message = "the alarm widget shows the five alarms of schedule mode"
  }

  assert {
    condition = alltrue([
      for w in jsondecode(aws_cloudwatch_dashboard.loadstar[0].dashboard_body).widgets :
      w.x + w.width <= 24
    ])
    error_message = "every widget fits the dashboard's 24 columns"
  }
}

run "the_dashboard_follows_the_namespace_the_tables_and_events_mode" {
  command = plan

  variables {
    mode              = "events"
    metrics_namespace = "Warehouse/Loads"
    dashboard_tables  = ["dim_staff", "fact_orders"]
  }

  assert {
    condition = [
      for w in jsondecode(aws_cloudwatch_dashboard.loadstar[0].dashboard_body).widgets : w.properties.title
      if w.type == "metric" && w.y >= 26
    ] == ["dim_staff", "fact_orders"]
    error_message = "one graph per table of dashboard_tables"
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.loadstar[0].dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : m[0]
      ]
    ])) == toset(["Warehouse/Loads", "AWS/Lambda"])
    error_message = "loadstar's metrics are read from metrics_namespace"
  }

  assert {
    condition = length(one([
      for w in jsondecode(aws_cloudwatch_dashboard.loadstar[0].dashboard_body).widgets : w.properties.alarms
      if w.type == "alarm"
    ])) == 7
    error_message = "the alarm widget shows the event alarms too in events mode"
  }
}

run "the_dashboard_can_be_turned_off" {
  command = plan

  variables {
    dashboard_enabled = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.loadstar) == 0 && output.dashboard_name == null
    error_message = "dashboard_enabled = false creates no dashboard, and the output is null"
  }
}
