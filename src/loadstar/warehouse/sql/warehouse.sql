-- The Terrific Totes MVP star schema: six dimensions and the sales fact.
-- Applied by `loadstar init-db`. The loader itself never needs this file: it
-- reads whatever warehouse it is pointed at from the catalogue.

CREATE TABLE IF NOT EXISTS dim_date (
    date_id      date PRIMARY KEY,
    year         integer NOT NULL,
    month        integer NOT NULL,
    day          integer NOT NULL,
    day_of_week  integer NOT NULL,
    day_name     varchar NOT NULL,
    month_name   varchar NOT NULL,
    quarter      integer NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_staff (
    staff_id         integer PRIMARY KEY,
    first_name       varchar NOT NULL,
    last_name        varchar NOT NULL,
    department_name  varchar NOT NULL,
    location         varchar NOT NULL,
    email_address    varchar NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_location (
    location_id     integer PRIMARY KEY,
    address_line_1  varchar NOT NULL,
    address_line_2  varchar,
    district        varchar,
    city            varchar NOT NULL,
    postal_code     varchar NOT NULL,
    country         varchar NOT NULL,
    phone           varchar NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_currency (
    currency_id    integer PRIMARY KEY,
    currency_code  varchar NOT NULL,
    currency_name  varchar NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_design (
    design_id      integer PRIMARY KEY,
    design_name    varchar NOT NULL,
    file_location  varchar NOT NULL,
    file_name      varchar NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_counterparty (
    counterparty_id                     integer PRIMARY KEY,
    counterparty_legal_name             varchar NOT NULL,
    counterparty_legal_address_line_1   varchar NOT NULL,
    counterparty_legal_address_line_2   varchar,
    counterparty_legal_district         varchar,
    counterparty_legal_city             varchar NOT NULL,
    counterparty_legal_postal_code      varchar NOT NULL,
    counterparty_legal_country          varchar NOT NULL,
    counterparty_legal_phone_number     varchar NOT NULL
);

CREATE TABLE IF NOT EXISTS fact_sales_order (
    sales_record_id              serial PRIMARY KEY,
    sales_order_id               integer NOT NULL,
    created_date                 date NOT NULL REFERENCES dim_date (date_id),
    created_time                 time NOT NULL,
    last_updated_date            date NOT NULL REFERENCES dim_date (date_id),
    last_updated_time            time NOT NULL,
    sales_staff_id               integer NOT NULL REFERENCES dim_staff (staff_id),
    counterparty_id              integer NOT NULL REFERENCES dim_counterparty (counterparty_id),
    units_sold                   integer NOT NULL,
    unit_price                   numeric(10, 2) NOT NULL,
    currency_id                  integer NOT NULL REFERENCES dim_currency (currency_id),
    design_id                    integer NOT NULL REFERENCES dim_design (design_id),
    agreed_payment_date          date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_date         date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_location_id  integer NOT NULL REFERENCES dim_location (location_id)
);

-- One row per sales-order version: the index loadstar's de-duplication of
-- re-emitted rows probes once per file, and a guarantee that holds even
-- against writers other than loadstar.
CREATE UNIQUE INDEX IF NOT EXISTS fact_sales_order_version
    ON fact_sales_order (sales_order_id, last_updated_date, last_updated_time);
