-- The single newest-event-time watermark was replaced by partition_clock (0003).
DROP TABLE IF EXISTS watermark;
