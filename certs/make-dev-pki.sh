#!/usr/bin/env bash
# Makes the development/test PKI of the hub with the openssl CLI: a dev CA, the hub's TLS
# server and receipt-signing certificates, and for each outside system a TLS client
# certificate and a message-signing key. See certs/README.md for what each file is for.
#
# Usage: certs/make-dev-pki.sh OUTDIR
#
# Idempotent: a key is generated only when it is missing (so public keys that someone
# registered stay valid); a certificate is (re)issued only when it is missing, does not
# match its key, no longer verifies against the CA, or expires within 7 days.
# Private keys are written 0600; nothing here is ever committed.
set -euo pipefail

die() { echo "make-dev-pki: error: $*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 OUTDIR"
command -v openssl >/dev/null || die "openssl not found (run ./gxhub setup)"

OUT=$1
mkdir -p -- "$OUT" || die "cannot create $OUT"
chmod 0755 -- "$OUT"
OUT=$(cd -- "$OUT" && pwd -P)

umask 077
TMP=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

CA_DAYS=3650
LEAF_DAYS=825
made=0

log() { echo "make-dev-pki: $*"; }

# gen_key FILE TYPE: TYPE is ec256 or rsaNNNN. Written atomically, mode 0600.
gen_key() {
  local file=$1 type=$2 tmp="$TMP/key.pem"
  case $type in
    ec256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
             -pkeyopt ec_param_enc:named_curve -out "$tmp" 2>/dev/null ;;
    rsa*)  openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${type#rsa}" \
             -out "$tmp" 2>/dev/null ;;
    *) die "internal: unknown key type $type" ;;
  esac || die "key generation failed for $file"
  chmod 0600 "$tmp"
  mv -f -- "$tmp" "$file"
  log "generated key $(basename "$file") ($type)"
  made=$((made + 1))
}

# pubkey_of KEY|CERT: the SubjectPublicKeyInfo, to compare a certificate with its key.
pub_of_key()  { openssl pkey -in "$1" -pubout 2>/dev/null; }
pub_of_cert() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }

ensure_key() {
  local file=$1 type=$2
  if [[ ! -s $file ]] || ! openssl pkey -in "$file" -noout 2>/dev/null; then
    gen_key "$file" "$type"
  fi
  chmod 0600 "$file"
}

# ---- CA ----------------------------------------------------------------------------
ensure_ca() {
  local key="$OUT/ca.key" crt="$OUT/ca.crt" reissue=0
  ensure_key "$key" ec256
  if [[ ! -s $crt ]]; then reissue=1
  elif ! openssl x509 -in "$crt" -noout -checkend $((30 * 86400)) >/dev/null 2>&1; then reissue=1
  elif [[ "$(pub_of_cert "$crt")" != "$(pub_of_key "$key")" ]]; then reissue=1
  fi
  if (( reissue )); then
    openssl req -new -x509 -key "$key" -sha256 -days "$CA_DAYS" \
      -subj "/O=GX Hub Dev/CN=GX Hub Dev CA" \
      -set_serial "0x$(openssl rand -hex 16)" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" \
      -addext "authorityKeyIdentifier=keyid:always" \
      -out "$TMP/ca.crt" || die "cannot make the CA certificate"
    chmod 0644 "$TMP/ca.crt"
    mv -f -- "$TMP/ca.crt" "$crt"
    log "issued ca.crt (GX Hub Dev CA, $CA_DAYS days)"
    made=$((made + 1))
  fi
  chmod 0644 "$crt"
}

# ---- leaf certificates -----------------------------------------------------------------
# issue NAME KEYTYPE CN PROFILE: makes NAME.key (if missing) and NAME.crt signed by the CA.
# PROFILE: server (TLS server, SAN 127.0.0.1/localhost), client (TLS client), sign
# (message/receipt signing: no EKU, so that CMS/S/MIME purpose checks accept it).
issue() {
  local name=$1 type=$2 cn=$3 profile=$4
  local key="$OUT/$name.key" crt="$OUT/$name.crt" ext="$TMP/ext.cnf" reissue=0
  ensure_key "$key" "$type"
  if [[ ! -s $crt ]]; then reissue=1
  elif ! openssl x509 -in "$crt" -noout -checkend $((7 * 86400)) >/dev/null 2>&1; then reissue=1
  elif [[ "$(pub_of_cert "$crt")" != "$(pub_of_key "$key")" ]]; then reissue=1
  elif ! openssl verify -CAfile "$OUT/ca.crt" "$crt" >/dev/null 2>&1; then reissue=1
  fi
  (( reissue )) || { chmod 0644 "$crt"; return 0; }

  {
    echo "[v3]"
    echo "basicConstraints=critical,CA:FALSE"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid:always"
    case $profile in
      server)
        if [[ $type == rsa* ]]; then echo "keyUsage=critical,digitalSignature,keyEncipherment"
        else echo "keyUsage=critical,digitalSignature"; fi
        echo "extendedKeyUsage=serverAuth"
        echo "subjectAltName=IP:127.0.0.1,DNS:localhost" ;;
      client)
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=clientAuth" ;;
      sign)
        echo "keyUsage=critical,digitalSignature,nonRepudiation" ;;
      *) die "internal: unknown profile $profile" ;;
    esac
  } >"$ext"

  openssl req -new -key "$key" -subj "/O=GX Hub Dev/CN=$cn" -out "$TMP/req.csr" \
    || die "cannot make a request for $name"
  openssl x509 -req -in "$TMP/req.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$LEAF_DAYS" \
    -extfile "$ext" -extensions v3 -out "$TMP/leaf.crt" 2>/dev/null \
    || die "cannot sign the certificate $name.crt"
  chmod 0644 "$TMP/leaf.crt"
  mv -f -- "$TMP/leaf.crt" "$crt"
  log "issued $name.crt (CN=$cn, $profile)"
  made=$((made + 1))
}

ensure_ca

issue hub-tls            ec256   "GX Hub"                 server
issue hub-receipt-ec     ec256   "GX Hub receipts (EC)"   sign
issue hub-receipt-rsa    rsa3072 "GX Hub receipts (RSA)"  sign
issue operator-admin-tls-client ec256 "operator admin client" client

declare -A SIGN_TYPE=([gx-market]=ec256 [jcredit]=rsa2048 [jcm]=ec256 [exchange]=rsa2048)
for name in gx-market jcredit jcm exchange; do
  issue "$name-tls-client" ec256 "$name client" client
  issue "$name-sign" "${SIGN_TYPE[$name]}" "$name signing" sign
done

# The gx-market connector registers a bare public key under a JWS kid.
pub_of_key "$OUT/gx-market-sign.key" >"$TMP/pub.pem" || die "cannot extract gx-market public key"
if ! cmp -s "$TMP/pub.pem" "$OUT/gx-market-sign.pub.pem" 2>/dev/null; then
  chmod 0644 "$TMP/pub.pem"
  mv -f -- "$TMP/pub.pem" "$OUT/gx-market-sign.pub.pem"
  log "wrote gx-market-sign.pub.pem"
  made=$((made + 1))
fi
if [[ "$(cat "$OUT/gx-market-sign.kid" 2>/dev/null)" != "gxm-2026-01" ]]; then
  echo "gxm-2026-01" >"$OUT/gx-market-sign.kid"
  chmod 0644 "$OUT/gx-market-sign.kid"
  made=$((made + 1))
fi

if (( made == 0 )); then
  log "up to date in $OUT"
else
  log "done ($made item(s) written) in $OUT"
fi
