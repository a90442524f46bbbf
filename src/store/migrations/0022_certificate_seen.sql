-- 0022: the certificate an agency last submitted with. Every hub adds, with its submitter counts
-- (src/store/submitters_repo.cpp), the notAfter of the client certificate of the agency's latest
-- accepted submission: what the certification kit's certificate criterion reads (how long the
-- certificate a vendor actually uses stays valid), and what an operator sees before it expires.
ALTER TABLE agencies ADD COLUMN certificate_not_after timestamptz;
