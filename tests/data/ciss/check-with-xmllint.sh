#!/usr/bin/env bash
# Checks the CISS sample messages against the IEPD with xmllint (libxml2):
#   valid/               must be well-formed and schema-valid; every routing key of its message type
#                        must be found at the documented path with the documented cardinality
#   invalid/             must be well-formed, carry an "INVALID:" comment and be schema-INVALID
#   not-a-message-type/  must be schema-valid but have a root that is not one of the five messages
# It also checks that no sample has a DOCTYPE or an xsi:schemaLocation hint, and that the
# end-to-end case (OTN-2026-0000123) is the same in the arrest, case update and erasure samples.
# Exits non-zero on any surprise.
#
# Usage: tests/data/ciss/check-with-xmllint.sh [-v]     (-v prints the routing-key values)
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
schema="$root/schemas/ciss/1.0/ciss.xsd"
verbose=0
[ "${1:-}" = "-v" ] && verbose=1

command -v xmllint >/dev/null || { echo "xmllint not found" >&2; exit 2; }
[ -f "$schema" ] || { echo "schema not found: $schema" >&2; exit 2; }

declare -A NS=(
  [ciss]="http://cjhub.example.org/ciss/1.0/"
  [nc]="http://release.niem.gov/niem/niem-core/5.0/"
  [j]="http://release.niem.gov/niem/domains/jxdm/7.2/"
)

# Routing keys: "<Root> <key> <cardinality> <path>". Cardinality: 1 = exactly one, ? = at most one,
# * = any number. Paths start at the root element, as in the hub configuration.
read -r -d '' KEYS <<'EOF'
ArrestPacket message_id 1 ciss:ArrestPacket/ciss:MessageMetadata/nc:DocumentIdentification/nc:IdentificationID
ArrestPacket origin_ori 1 ciss:ArrestPacket/ciss:MessageMetadata/j:OrganizationORIIdentification/nc:IdentificationID
ArrestPacket case_key 1 ciss:ArrestPacket/nc:Case/nc:CaseTrackingID
ArrestPacket jurisdiction ? ciss:ArrestPacket/nc:Case/j:CaseAugmentation/j:CaseCourt/ciss:CourtAugmentation/ciss:CourtLocationCode
EarlyArrestNotification message_id 1 ciss:EarlyArrestNotification/ciss:MessageMetadata/nc:DocumentIdentification/nc:IdentificationID
EarlyArrestNotification origin_ori 1 ciss:EarlyArrestNotification/ciss:MessageMetadata/j:OrganizationORIIdentification/nc:IdentificationID
EarlyArrestNotification case_key 1 ciss:EarlyArrestNotification/nc:Case/nc:CaseTrackingID
CaseUpdate message_id 1 ciss:CaseUpdate/ciss:MessageMetadata/nc:DocumentIdentification/nc:IdentificationID
CaseUpdate origin_ori 1 ciss:CaseUpdate/ciss:MessageMetadata/j:OrganizationORIIdentification/nc:IdentificationID
CaseUpdate case_key 1 ciss:CaseUpdate/nc:Case/nc:CaseTrackingID
CaseUpdate jurisdiction 1 ciss:CaseUpdate/nc:Case/j:CaseAugmentation/j:CaseCourt/ciss:CourtAugmentation/ciss:CourtLocationCode
CaseUpdate erasure * ciss:CaseUpdate/nc:Case/j:CaseAugmentation/j:CaseCharge/ciss:ChargeAugmentation/ciss:ChargeErasedIndicator
ErasureNotice message_id 1 ciss:ErasureNotice/ciss:MessageMetadata/nc:DocumentIdentification/nc:IdentificationID
ErasureNotice origin_ori 1 ciss:ErasureNotice/ciss:MessageMetadata/j:OrganizationORIIdentification/nc:IdentificationID
ErasureNotice case_key 1 ciss:ErasureNotice/nc:Case/nc:CaseTrackingID
ErasureNotice jurisdiction 1 ciss:ErasureNotice/nc:Case/j:CaseAugmentation/j:CaseCourt/ciss:CourtAugmentation/ciss:CourtLocationCode
ErasureNotice erasure 1 ciss:ErasureNotice/ciss:Erasure/ciss:ErasureIndicator
Acknowledgement message_id 1 ciss:Acknowledgement/ciss:MessageMetadata/nc:DocumentIdentification/nc:IdentificationID
Acknowledgement origin_ori 1 ciss:Acknowledgement/ciss:MessageMetadata/j:OrganizationORIIdentification/nc:IdentificationID
Acknowledgement ack_ref 1 ciss:Acknowledgement/ciss:ReferencedMessageIdentification/nc:IdentificationID
Acknowledgement ack_status 1 ciss:Acknowledgement/ciss:AcknowledgementStatusCode
Acknowledgement ack_reason ? ciss:Acknowledgement/ciss:AcknowledgementReasonText
EOF
ROOTS=" ArrestPacket EarlyArrestNotification CaseUpdate ErasureNotice Acknowledgement "

surprises=0
surprise() { echo "SURPRISE: $*"; surprises=$((surprises + 1)); }

# prefix:Local/prefix:Local/... -> namespace-safe absolute XPath
to_xpath() {
  local path="$1" out="" step prefix local
  IFS='/' read -r -a steps <<<"$path"
  for step in "${steps[@]}"; do
    prefix="${step%%:*}"; local="${step#*:}"
    out="$out/*[local-name()='$local' and namespace-uri()='${NS[$prefix]}']"
  done
  printf '%s' "$out"
}

xp() { xmllint --xpath "$2" "$1" 2>/dev/null; }

common_checks() {  # file
  local f="$1"
  xmllint --noout "$f" 2>/dev/null || { surprise "$f is not well-formed"; return 1; }
  grep -q '<!DOCTYPE' "$f" && surprise "$f has a DOCTYPE"
  grep -q 'schemaLocation' "$f" && surprise "$f relies on xsi:schemaLocation"
  return 0
}

declare -A CASE_KEY
n_valid=0 n_invalid=0 n_other=0

for f in "$here"/valid/*.xml; do
  n_valid=$((n_valid + 1))
  rel="${f#"$root"/}"
  common_checks "$f" || continue
  if ! out="$(xmllint --noout --schema "$schema" "$f" 2>&1)"; then
    surprise "$rel should be valid:"; echo "$out" | head -5; continue
  fi
  rootname="$(xp "$f" 'local-name(/*)')"
  case "$ROOTS" in *" $rootname "*) ;; *) surprise "$rel: root $rootname is not a CISS message"; continue ;; esac
  echo "ok    valid    $rel ($rootname)"
  while read -r type key card path; do
    [ "$type" = "$rootname" ] || continue
    x="$(to_xpath "$path")"
    count="$(xp "$f" "count($x)")"
    case "$card" in
      1) [ "$count" = "1" ] || surprise "$rel: $key expected exactly 1 match, got $count ($path)" ;;
      \?) [ "$count" -le 1 ] || surprise "$rel: $key expected at most 1 match, got $count ($path)" ;;
    esac
    values=()
    for ((i = 1; i <= count; i++)); do
      v="$(xp "$f" "normalize-space(($x)[$i])")"
      [ -n "$v" ] || surprise "$rel: $key match $i is empty"
      values+=("$v")
    done
    [ "$key" = "case_key" ] && [ "$count" = "1" ] && CASE_KEY["$(basename "$f")"]="${values[0]}"
    [ $verbose = 1 ] && printf '        %-12s %s\n' "$key" "${values[*]:-(none)}"
  done <<<"$KEYS"
done

for f in "$here"/invalid/*.xml; do
  n_invalid=$((n_invalid + 1))
  rel="${f#"$root"/}"
  common_checks "$f" || continue
  grep -q '<!-- INVALID:' "$f" || surprise "$rel has no INVALID: comment"
  if xmllint --noout --schema "$schema" "$f" >/dev/null 2>&1; then
    surprise "$rel should be schema-invalid but validates"
  else
    echo "ok    invalid  $rel"
    if [ $verbose = 1 ]; then
      xmllint --noout --schema "$schema" "$f" 2>&1 | grep -m1 'validity error' | sed 's/^.*validity error : /        /'
    fi
  fi
done

for f in "$here"/not-a-message-type/*.xml; do
  [ -e "$f" ] || continue
  n_other=$((n_other + 1))
  rel="${f#"$root"/}"
  common_checks "$f" || continue
  xmllint --noout --schema "$schema" "$f" >/dev/null 2>&1 || surprise "$rel should be schema-valid"
  rootname="$(xp "$f" 'local-name(/*)')"
  case "$ROOTS" in *" $rootname "*) surprise "$rel: root $rootname is a message type" ;;
    *) echo "ok    no-type  $rel (schema-valid, root $rootname is not a message type)" ;; esac
done

# One case followed end to end.
want="OTN-2026-0000123"
for s in early-arrest-1.xml arrest-packet-1.xml case-update-1.xml erasure-notice-1.xml; do
  [ "${CASE_KEY[$s]:-}" = "$want" ] || surprise "$s: case_key is '${CASE_KEY[$s]:-}', expected $want"
done

echo "checked: $n_valid valid, $n_invalid invalid, $n_other not-a-message-type; surprises: $surprises"
[ "$surprises" -eq 0 ]
