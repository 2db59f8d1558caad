# --- Dashboard ----------------------------------------------------------------------
#
# One page of what loadstar reports about itself: its EMF metrics (namespace
# var.metrics_namespace, dimension Service = var.name, and Table for the
# per-table ones), the function's errors, the alarms, and the failed files'
# log lines. A run reports once, at its end: each point is the runs of one
# period, and the per-table graphs have points only from runs that listed the
# table.

locals {
  dashboard_period = 300

  dashboard_overview = [
    {
      type   = "text"
      x      = 0
      y      = 0
      width  = 24
      height = 2
      properties = {
        markdown = join("\n", [
          "## ${var.name}: loads from s3://${var.bucket_name}",
          "Each run reports once, at its end. Files loaded, rows and failures are summed over the runs of each ${local.dashboard_period / 60}-minute period; backlog and ages are the largest a run saw. `loadstar status` lists what waits, `loadstar report --html` draws the ledger's history.",
        ])
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 2
      width  = 8
      height = 6
      properties = {
        title  = "Files loaded"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Sum"
        metrics = [
          [var.metrics_namespace, "FilesLoaded", "Service", var.name, { stat = "Sum", label = "all runs" }],
          [var.metrics_namespace, "FilesLoaded", "Service", var.name, { stat = "Average", label = "per run" }],
        ]
        yAxis = { left = { min = 0, showUnits = false, label = "files" } }
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = 2
      width  = 8
      height = 6
      properties = {
        title  = "Rows written"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Sum"
        metrics = [
          [var.metrics_namespace, "RowsLoaded", "Service", var.name, { stat = "Sum", label = "all runs" }],
          [var.metrics_namespace, "RowsLoaded", "Service", var.name, { stat = "Average", label = "per run" }],
        ]
        yAxis = { left = { min = 0, showUnits = false, label = "rows" } }
      }
    },
    {
      type   = "metric"
      x      = 16
      y      = 2
      width  = 8
      height = 6
      properties = {
        title  = "Failures"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Sum"
        metrics = [
          [var.metrics_namespace, "FilesFailed", "Service", var.name, { stat = "Sum", label = "files failed", color = "#d62728" }],
          [var.metrics_namespace, "FilesNeedingAttention", "Service", var.name, { stat = "Maximum", label = "files needing attention", color = "#ff7f0e" }],
          # A run that failed before it could report (settings, secret, warehouse).
          ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.loadstar.function_name, { stat = "Sum", label = "failed runs" }],
        ]
        yAxis = { left = { min = 0, showUnits = false } }
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 8
      width  = 8
      height = 6
      properties = {
        title  = "Ingest lag: a file's key time to its load"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "p50"
        # Every loaded file's own lag, so the percentiles are the files'.
        metrics = [
          [var.metrics_namespace, "IngestLagSeconds", "Service", var.name, { stat = "p50", label = "median" }],
          [var.metrics_namespace, "IngestLagSeconds", "Service", var.name, { stat = "p90", label = "p90" }],
          [var.metrics_namespace, "IngestLagSeconds", "Service", var.name, { stat = "Maximum", label = "slowest" }],
        ]
        yAxis = { left = { min = 0, label = "seconds", showUnits = false } }
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = 8
      width  = 8
      height = 6
      properties = {
        title  = "Backlog: files waiting, and the oldest's age"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Maximum"
        metrics = [
          [var.metrics_namespace, "FilesPending", "Service", var.name, { stat = "Maximum", label = "files pending" }],
          [var.metrics_namespace, "OldestPendingAgeSeconds", "Service", var.name, { stat = "Maximum", label = "oldest pending (s)", yAxis = "right" }],
        ]
        annotations = {
          horizontal = [{ label = "backlog alarm", value = var.oldest_pending_age_threshold_seconds, yAxis = "right" }]
        }
        yAxis = {
          left  = { min = 0, label = "files", showUnits = false }
          right = { min = 0, label = "seconds", showUnits = false }
        }
      }
    },
    {
      type   = "metric"
      x      = 16
      y      = 8
      width  = 8
      height = 6
      properties = {
        title  = "Freshness: age of the newest file loaded"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Maximum"
        metrics = [
          [var.metrics_namespace, "NewestLoadedAgeSeconds", "Service", var.name, { stat = "Maximum", label = "newest loaded (s)" }],
        ]
        annotations = {
          horizontal = [{ label = "stale alarm", value = var.newest_loaded_age_threshold_seconds }]
        }
        yAxis = { left = { min = 0, label = "seconds", showUnits = false } }
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 14
      width  = 8
      height = 6
      properties = {
        title  = "Run duration"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Maximum"
        metrics = [
          [var.metrics_namespace, "DurationMs", "Service", var.name, { stat = "Average", label = "average" }],
          [var.metrics_namespace, "DurationMs", "Service", var.name, { stat = "Maximum", label = "longest" }],
          [var.metrics_namespace, "DurationMs", "Service", var.name, { stat = "SampleCount", label = "runs", yAxis = "right" }],
        ]
        # Runs stop themselves before the timeout; a longest run near it has
        # left files for the next one.
        annotations = {
          horizontal = [{ label = "timeout", value = var.timeout * 1000 }]
        }
        yAxis = {
          left  = { min = 0, label = "ms", showUnits = false }
          right = { min = 0, label = "runs", showUnits = false }
        }
      }
    },
    {
      type   = "alarm"
      x      = 8
      y      = 14
      width  = 16
      height = 6
      properties = {
        title = "Alarms"
        # Built from the names, known at plan, rather than the ARNs, known at apply.
        alarms = [
          for name in local.dashboard_alarm_names :
          "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${name}"
        ]
      }
    },
    {
      type   = "log"
      x      = 0
      y      = 20
      width  = 24
      height = 6
      properties = {
        title  = "Files that failed, most recent first"
        region = local.region
        view   = "table"
        query = join(" | ", [
          "SOURCE '${aws_cloudwatch_log_group.function.name}'",
          "filter event = \"file_failed\"",
          "fields @timestamp, table, key, reason",
          "sort @timestamp desc",
          "limit 50",
        ])
      }
    },
  ]

  dashboard_alarm_names = concat(
    [
      aws_cloudwatch_metric_alarm.errors.alarm_name,
      aws_cloudwatch_metric_alarm.failed_invocations.alarm_name,
      aws_cloudwatch_metric_alarm.attention.alarm_name,
    ],
    [for alarm in aws_cloudwatch_metric_alarm.staleness : alarm.alarm_name],
    aws_cloudwatch_metric_alarm.event_dead_letters[*].alarm_name,
    aws_cloudwatch_metric_alarm.event_age[*].alarm_name,
  )

  # One graph per table, three to a row, below the overview: what waits, and
  # how old the newest file loaded is.
  dashboard_tables = [
    for index, table in var.dashboard_tables : {
      type   = "metric"
      x      = (index % 3) * 8
      y      = 26 + floor(index / 3) * 6
      width  = 8
      height = 6
      properties = {
        title  = table
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        stat   = "Maximum"
        metrics = [
          [var.metrics_namespace, "FilesPending", "Service", var.name, "Table", table, { stat = "Maximum", label = "files pending" }],
          [var.metrics_namespace, "OldestPendingAgeSeconds", "Service", var.name, "Table", table, { stat = "Maximum", label = "oldest pending (s)", yAxis = "right" }],
          [var.metrics_namespace, "NewestLoadedAgeSeconds", "Service", var.name, "Table", table, { stat = "Maximum", label = "newest loaded (s)", yAxis = "right" }],
        ]
        yAxis = {
          left  = { min = 0, label = "files", showUnits = false }
          right = { min = 0, label = "seconds", showUnits = false }
        }
      }
    }
  ]
}

resource "aws_cloudwatch_dashboard" "loadstar" {
  count = var.dashboard_enabled ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = concat(local.dashboard_overview, local.dashboard_tables) })
}
