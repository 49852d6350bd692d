-- The polymer and recycled-share search, PostgreSQL dialect. Keep in step with
-- ../sqlite/0007_main_material_index.sql.
-- `passport_materials` now holds only a passport's main materials by mass (several on a tie), so
-- `polymer=PP&minRecycledShare=0.5` finds recycled-PP lots and not a PET lot with 0.5 % PP caps
-- (README "Searching passports"). Rows written before indexed every material: drop the others.
DELETE FROM passport_materials m
USING passports p
WHERE p.id = m.passport_id
  AND p.version = m.version
  AND (p.canonical_json::jsonb -> 'materials' -> m.position::int ->> 'massFraction')::double precision
      < (SELECT MAX((e ->> 'massFraction')::double precision)
         FROM jsonb_array_elements(p.canonical_json::jsonb -> 'materials') e);
