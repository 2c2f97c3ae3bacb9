-- Version 4: the keyword index holds the words read in a picture as one line, its lines joined
-- by spaces, so a quoted phrase matches across the picture's lines ("monday again" in a meme
-- with MONDAY above and AGAIN below).

DROP VIEW keyword_rows;
CREATE VIEW keyword_rows AS
SELECT
    i.id AS id,
    coalesce((SELECT replace(t.text, char(10), ' ') FROM image_text t WHERE t.image_id = i.id), '')
        AS words,
    coalesce((
        SELECT group_concat(
            substr(CAST(r.path AS TEXT),
                   length(rtrim(CAST(r.path AS TEXT), replace(CAST(r.path AS TEXT), '/', ''))) + 1)
                || '/' || CAST(substr(f.path, length(r.path) + 2) AS TEXT),
            char(10))
        FROM files f JOIN roots r ON r.id = f.root_id
        WHERE f.image_id = i.id), '') AS names,
    trim(
        coalesce(i.camera_make, '') || ' ' || coalesce(i.camera_model, '') || ' ' ||
        coalesce(i.lens, '') || ' ' ||
        CASE WHEN i.taken_at IS NULL THEN '' ELSE
            substr(i.taken_at, 1, 4) || ' ' ||
            CASE substr(i.taken_at, 6, 2)
                WHEN '01' THEN 'January' WHEN '02' THEN 'February' WHEN '03' THEN 'March'
                WHEN '04' THEN 'April' WHEN '05' THEN 'May' WHEN '06' THEN 'June'
                WHEN '07' THEN 'July' WHEN '08' THEN 'August' WHEN '09' THEN 'September'
                WHEN '10' THEN 'October' WHEN '11' THEN 'November' WHEN '12' THEN 'December'
                ELSE '' END || ' ' || substr(i.taken_at, 1, 10)
        END) AS facts
FROM images i;

DELETE FROM keyword_index;
INSERT INTO keyword_index (rowid, words, names, facts) SELECT * FROM keyword_rows;
