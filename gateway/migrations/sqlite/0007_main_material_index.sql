-- The polymer and recycled-share search, SQLite dialect. Keep in step with
-- ../postgres/0007_main_material_index.sql.
-- `passport_materials` now holds only a passport's main materials by mass (several on a tie), so
-- `polymer=PP&minRecycledShare=0.5` finds recycled-PP lots and not a PET lot with 0.5 % PP caps
-- (README "Searching passports"). Rows written before indexed every material: drop the others.
DELETE FROM passport_materials
WHERE EXISTS (
    SELECT 1 FROM passports p
    WHERE p.id = passport_materials.passport_id
      AND p.version = passport_materials.version
      AND json_extract(p.canonical_json,
                       '$.materials[' || passport_materials.position || '].massFraction')
          < (SELECT MAX(json_extract(e.value, '$.massFraction'))
             FROM json_each(p.canonical_json, '$.materials') e)
);
