# --- What to load, and from where -------------------------------------------

variable "name" {
  description = "Name of the function; also the prefix of every other resource's name and the Service dimension of loadstar's metrics."
  type        = string
  default     = "loadstar"

  validation {
    # 40 leaves room for the suffixes of the role, queue, topic and alarm names.
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name must be 1 to 40 letters, digits, hyphens or underscores."
  }
}

variable "bucket_name" {
  description = "The processed bucket loadstar reads Parquet files from (LOADSTAR_BUCKET)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a bucket name, not an ARN or a URL."
  }
}

variable "prefixes" {
  description = "Key prefixes of the tables loadstar loads. The role may list, read and tag objects under these and nothing else; they must cover every table prefix in the catalogue. The default covers loadstar's built-in catalogue (dimension/<name>, fact/<name>)."
  type        = list(string)
  default     = ["dimension/", "fact/"]

  validation {
    condition = length(var.prefixes) > 0 && alltrue([
      for p in var.prefixes : length(p) > 0 && !startswith(p, "/") && !strcontains(p, "*") && !strcontains(p, "?")
    ])
    error_message = "prefixes must be a non-empty list of key prefixes without a leading slash or wildcards."
  }
}

variable "db_secret_arn" {
  description = "Full ARN of the Secrets Manager secret holding the warehouse connection as JSON: host, port, dbname, username, password (LOADSTAR_DB_SECRET)."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:.+$", var.db_secret_arn))
    error_message = "db_secret_arn must be the full ARN of a Secrets Manager secret."
  }
}

variable "secret_kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the secret, if any. Null when the secret uses Secrets Manager's AWS managed key, which needs no grant."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null || can(regex("^arn:[^:]+:kms:[^:]+:[0-9]{12}:key/.+$", var.secret_kms_key_arn))
    error_message = "secret_kms_key_arn must be the ARN of a KMS key (not an alias)."
  }
}

variable "bucket_kms_key_arn" {
  description = "ARN of the customer managed KMS key the bucket's objects are encrypted with (SSE-KMS), if any. Null for SSE-S3."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_kms_key_arn == null || can(regex("^arn:[^:]+:kms:[^:]+:[0-9]{12}:key/.+$", var.bucket_kms_key_arn))
    error_message = "bucket_kms_key_arn must be the ARN of a KMS key (not an alias)."
  }
}

variable "config_path" {
  description = "Path of a TOML table catalogue inside the package, such as /var/task/loadstar.toml (LOADSTAR_CONFIG). Null uses loadstar's built-in catalogue."
  type        = string
  default     = null
}

# --- The function -------------------------------------------------------------

variable "package_path" {
  description = "Path of the deployment zip. Null means dist/loadstar-lambda.zip in this repository, as `make package` builds it."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Python runtime; the package must have been built for the same Python version."
  type        = string
  default     = "python3.11"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.11, python3.12 or python3.13."
  }
}

variable "architecture" {
  description = "Instruction set; the package's wheels (pyarrow, psycopg) must have been built for it."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB. Lambda allots CPU in proportion; 1024 MB decodes and copies a file of a few million rows comfortably."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Seconds a run may take. loadstar watches the remaining time and stops before Lambda would kill it; what is left waits for the next run."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp in MB. Objects larger than 8 MB spill to /tmp while they load, so this must exceed the largest file."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240
    error_message = "ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics loadstar emits (LOADSTAR_METRICS_NAMESPACE)."
  type        = string
  default     = "Loadstar"
}

variable "extra_environment" {
  description = "Further environment variables, such as LOADSTAR_LOG_LEVEL or PGSSLMODE. The variables this module sets itself cannot be overridden here."
  type        = map(string)
  default     = {}

  validation {
    condition = length(setintersection(keys(var.extra_environment), [
      "LOADSTAR_BUCKET", "LOADSTAR_DB_SECRET", "LOADSTAR_CONFIG", "LOADSTAR_SERVICE", "LOADSTAR_METRICS_NAMESPACE",
    ])) == 0
    error_message = "extra_environment must not set LOADSTAR_BUCKET, LOADSTAR_DB_SECRET, LOADSTAR_CONFIG, LOADSTAR_SERVICE or LOADSTAR_METRICS_NAMESPACE; they have their own variables."
  }
}

variable "subnet_ids" {
  description = "Subnets to run in, for a warehouse inside a VPC. Empty runs the function outside any VPC. loadstar calls S3 and Secrets Manager, so the subnets need a route to both (a gateway endpoint for S3, an interface endpoint or a NAT gateway for Secrets Manager); logs and metrics leave through Lambda itself."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when subnet_ids is set; they must allow egress to the database's port and HTTPS (443) to S3 and Secrets Manager."
  type        = list(string)
  default     = []
}

# --- How runs start: the schedule, events, failed invocations --------------------

variable "mode" {
  description = "\"schedule\": runs on a schedule find what is pending. \"events\": each new object under the table prefixes starts a load within seconds (see event_source), and the schedule becomes a sweep that catches anything an event missed."
  type        = string
  default     = "schedule"

  validation {
    condition     = contains(["schedule", "events"], var.mode)
    error_message = "mode must be \"schedule\" or \"events\"."
  }
}

variable "event_source" {
  description = "In events mode, how S3 tells the function: \"sqs\" (bucket notifications to a queue the function polls in batches) or \"eventbridge\" (the bucket's EventBridge events, one invocation per object). Ignored in schedule mode."
  type        = string
  default     = "sqs"

  validation {
    condition     = contains(["sqs", "eventbridge"], var.event_source)
    error_message = "event_source must be \"sqs\" or \"eventbridge\"."
  }
}

variable "manage_bucket_notification" {
  description = "In events mode, whether this module writes the bucket's notification configuration. S3 keeps one configuration per bucket and this module's replaces all of it: set false when the bucket has notifications of its own, and add the module's (see docs/deploying/events.md) to the configuration that manages them."
  type        = bool
  default     = true
}

variable "suffix" {
  description = "In events mode, only keys ending in this start a load. Null for tables whose keys have no extension; the sweep finds every file either way."
  type        = string
  default     = ".parquet"

  validation {
    condition     = var.suffix == null || can(regex("^[^*?]+$", var.suffix))
    error_message = "suffix must be null or a non-empty suffix without wildcards."
  }
}

variable "event_batch_size" {
  description = "With event_source \"sqs\": the most messages (one file each) one invocation is given (1-10000). Above 10, event_batching_window_seconds must be at least 1."
  type        = number
  default     = 100

  validation {
    condition     = var.event_batch_size >= 1 && var.event_batch_size <= 10000 && floor(var.event_batch_size) == var.event_batch_size
    error_message = "event_batch_size must be a whole number between 1 and 10000."
  }
}

variable "event_batching_window_seconds" {
  description = "With event_source \"sqs\": how long Lambda gathers messages before invoking with fewer than event_batch_size (0-300)."
  type        = number
  default     = 10

  validation {
    condition     = var.event_batching_window_seconds >= 0 && var.event_batching_window_seconds <= 300 && floor(var.event_batching_window_seconds) == var.event_batching_window_seconds
    error_message = "event_batching_window_seconds must be a whole number between 0 and 300."
  }
}

variable "event_maximum_concurrency" {
  description = "With event_source \"sqs\": the most invocations the queue starts at once (2-1000; AWS allows no fewer than 2). Each holds a warehouse connection."
  type        = number
  default     = 2

  validation {
    condition     = var.event_maximum_concurrency >= 2 && var.event_maximum_concurrency <= 1000 && floor(var.event_maximum_concurrency) == var.event_maximum_concurrency
    error_message = "event_maximum_concurrency must be a whole number between 2 and 1000."
  }
}

variable "reserved_concurrent_executions" {
  description = "Executions reserved for the function, which also caps them. Null reserves none: with event_source \"sqs\" the queue's event_maximum_concurrency bounds event-driven runs; with \"eventbridge\" nothing does, so set this to bound the warehouse connections. With \"sqs\" it must exceed event_maximum_concurrency, leaving one execution for the sweep."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= 1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions, false)
    error_message = "reserved_concurrent_executions must be null or a whole number of at least 1 (0 would stop the function)."
  }
}

variable "schedule_expression" {
  description = "When loadstar runs: an EventBridge rate() or cron() expression. Null runs it every 15 minutes in schedule mode and sweeps hourly in events mode."
  type        = string
  default     = null

  validation {
    condition     = var.schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be null or a rate(...) or cron(...) expression."
  }
}

variable "schedule_enabled" {
  description = "Whether the schedule runs loadstar. Disabling it also silences the staleness alarms, which would otherwise fire for want of runs."
  type        = bool
  default     = true
}

variable "maximum_retry_attempts" {
  description = "How often Lambda retries a failed run (0-2). Retrying is safe, since the ledger never loads a file twice, but rarely useful: the next scheduled run retries every file that failed anyway."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "maximum_event_age_seconds" {
  description = "How long an asynchronous invocation (the schedule's, or with event_source \"eventbridge\" an object's) may wait to run, throttled or between retries, before Lambda gives up on it and records it in the failed-invocations queue (60-21600). With \"eventbridge\" it also bounds how long EventBridge retries delivering an event before it goes to the event dead-letter queue."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_event_age_seconds >= 60 && var.maximum_event_age_seconds <= 21600
    error_message = "maximum_event_age_seconds must be between 60 and 21600."
  }
}

# --- Logs and alarms ------------------------------------------------------------

variable "log_retention_days" {
  description = "Days to keep the function's logs. Each run's log is its record of what was loaded and what failed, so the default keeps a year of them."
  type        = number
  default     = 365

  validation {
    condition = contains([
      0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
    ], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs offers (0 keeps logs forever)."
  }
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the alarm topic. Each must confirm the subscription from the message AWS sends."
  type        = list(string)
  default     = []
}

variable "alarm_period_seconds" {
  description = "Period over which each alarm looks at loadstar's metrics. It must be longer than the interval between scheduled runs, since a period without any run counts against the staleness alarms. Null is 3600 in schedule mode and 7200 (two hourly sweeps) in events mode."
  type        = number
  default     = null

  validation {
    condition     = var.alarm_period_seconds == null || try(var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0, false)
    error_message = "alarm_period_seconds must be null or a multiple of 60."
  }
}

variable "newest_loaded_age_threshold_seconds" {
  description = "Alarm when the newest file loaded is older than this: nothing new has reached the warehouse for that long."
  type        = number
  default     = 86400
}

variable "oldest_pending_age_threshold_seconds" {
  description = "Alarm when a file has waited longer than this to be loaded: loadstar is falling behind, or a file keeps failing."
  type        = number
  default     = 3600
}

variable "event_age_threshold_seconds" {
  description = "With event_source \"sqs\": alarm when the oldest message in the event queue is older than this. Messages stay in the queue until their batch has loaded, so it must exceed the longest a batch takes."
  type        = number
  default     = 300

  validation {
    condition     = var.event_age_threshold_seconds >= 60
    error_message = "event_age_threshold_seconds must be at least 60."
  }
}

variable "dashboard_enabled" {
  description = "Whether to create a CloudWatch dashboard of loadstar's metrics, alarms and failed files, named like the function."
  type        = bool
  default     = true
}

variable "dashboard_tables" {
  description = "Tables that get a graph of their own on the dashboard (files pending, oldest pending, newest loaded). The default is loadstar's built-in catalogue; list the catalogue's tables when it has others."
  type        = list(string)
  default = [
    "dim_date",
    "dim_staff",
    "dim_location",
    "dim_currency",
    "dim_design",
    "dim_counterparty",
    "fact_sales_order",
  ]

  validation {
    # A dashboard holds at most 500 widgets; the overview takes 9.
    condition     = length(var.dashboard_tables) <= 400 && alltrue([for t in var.dashboard_tables : length(t) > 0])
    error_message = "dashboard_tables must be at most 400 non-empty table names."
  }
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}
