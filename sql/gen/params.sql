-- gen-data's command-line values (validated by the binary, sent as query parameters), as
-- settings of the setup transaction for setup.sql to read with current_setting().
SELECT set_config('gen.scale', $1, true), set_config('gen.seed', $2, true),
       set_config('gen.months', $3, true), set_config('gen.end_month', $4, true)
