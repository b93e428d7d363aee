-- History reads only the rows of its page, also with few partitions. Valid on PostgreSQL 15 to 18.
-- Runs in one transaction, as the owner (direct URL). Online: one catalog change to a function; no
-- table is locked or read, and the function's grants stay as they are.
--
-- robot_brain.history_page (0009) runs its page query with a generic plan, which knows neither the
-- session nor the cursor and so guesses one row per partition. With few partitions (a young
-- database: the default, this month and three ahead) that guess made an Append of the partitions
-- followed by a Sort look cheapest: every turn of the session inside the span was read and sorted to
-- return 20 (measured: 43 buffers for a page of a 40-turn session, the function's server time above
-- the unprepared raw query's; with 41 partitions the same plan had a Merge Append and read 23). Each
-- partition's index already returns the rows in the page's order, so a Merge Append of index scans
-- under the Limit reads only the page; turning sorts off inside the function makes the planner choose
-- it at any partition count (24 buffers at 5 partitions). The statement needs no sort anywhere else.
ALTER FUNCTION robot_brain.history_page(text, text, bigint, uuid, integer, integer, boolean)
  SET enable_sort = off;
