-- 0020: sandbox agencies (`environment: sandbox` in the agencies file). A sandbox agency's messages
-- are routed only to sandbox agencies and a production agency's only to production agencies
-- (src/store/routing_repo.cpp, erasures_repo.cpp); its case keys carry the `sandbox:` prefix
-- (src/intake/admission.cpp), so its cases, holders and erasures never meet production's.
ALTER TABLE agencies ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
