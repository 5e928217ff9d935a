-- SQLite's JSON functions read a NUL escape (\u0000) in a node report as it is: nothing
-- to change here (PostgreSQL's 0022 makes its rollups read such reports too).
SELECT 1;
