-- forumnet seed --scale: one step a file, run in file order inside one transaction (src/cli/seed_scale.c).
-- A file named NN_insert_<table>.sql fills <table> and ends a reported stage; the others are working steps
-- (temporary tables ON COMMIT DROP, their statistics). Only NN_plan_parameters.sql takes parameters.
--
-- Parallel query is off for the transaction as a precaution, and JIT too: before they are analyzed the
-- working tables look expensive, and JIT spent more time compiling these one-off statements than it saved.
SELECT set_config('max_parallel_workers_per_gather', '0', true),
       set_config('jit', 'off', true), set_config('work_mem', '256MB', true);
