#!/bin/sh
# mkdev-ca.sh - development CA (stands in for VGCA) and ward signing certificates for motcua.
# Usage: certs/mkdev-ca.sh OUTDIR   (openssl CLI only; idempotent: existing keys and certs are kept,
# only the CRL is re-issued). Also makes the hostile certificates the signing tests need.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DB="$OUT/ca-db"
EVILDB="$OUT/evil-ca-db"
CN_CA="VGCA Development Root (NOT FOR PRODUCTION)"
# The evil CA deliberately has the same DN as the genuine CA: chains must be checked by key, not name.
CA_SUBJ="/C=VN/O=Ban Cơ yếu Chính phủ (dev)/CN=$CN_CA"
ST="Đà Nẵng"

umask 077                   # every file we create (keys first of all) is 0600

# ca_conf DBDIR: minimal `openssl ca` configuration (database, serials, one policy, extension sets).
ca_conf() {
    cat > "$1/openssl.cnf" <<CONF
[ ca ]
default_ca = dev
[ dev ]
dir = $1
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 825
default_crl_days = 30
policy = pol_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes
utf8 = yes
string_mask = utf8only
[ pol_any ]
countryName = optional
stateOrProvinceName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ ext_sign ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ ext_tls ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ ext_crl ]
authorityKeyIdentifier = keyid:always
CONF
}

# new_ca NAME DBDIR: self-signed root, 10 years, and its openssl-ca database.
new_ca() {
    mkdir -p "$2/newcerts"
    [ -f "$2/index.txt" ] || : > "$2/index.txt"
    [ -f "$2/serial" ] || openssl rand -hex 8 > "$2/serial"
    [ -f "$2/crlnumber" ] || echo 1000 > "$2/crlnumber"
    ca_conf "$2"
    [ -f "$OUT/$1.key" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 \
        -out "$OUT/$1.key" 2>/dev/null
    if [ ! -f "$OUT/$1.crt" ]; then
        openssl req -new -x509 -utf8 -key "$OUT/$1.key" -sha256 -days 3650 -subj "$CA_SUBJ" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -addext "subjectKeyIdentifier=hash" -out "$OUT/$1.crt"
    fi
}

# issue DBDIR CANAME NAME KEYTYPE SUBJ EXT [extra openssl-ca args...]: key + cert, each only if missing.
issue() {
    db=$1; caname=$2; name=$3; ktype=$4; subj=$5; ext=$6
    shift 6
    if [ ! -f "$OUT/$name.key" ]; then
        case $ktype in
        rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/$name.key" 2>/dev/null ;;
        ec)  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/$name.key" ;;
        esac
    fi
    if [ ! -f "$OUT/$name.crt" ]; then
        openssl req -new -utf8 -key "$OUT/$name.key" -subj "$subj" -out "$db/$name.csr"
        openssl ca -batch -notext -config "$db/openssl.cnf" -cert "$OUT/$caname.crt" \
            -keyfile "$OUT/$caname.key" -extensions "$ext" -in "$db/$name.csr" \
            -out "$OUT/$name.crt" "$@" 2>"$db/$name.log" || { cat "$db/$name.log" >&2; exit 1; }
        rm -f "$db/$name.csr"
    fi
}

ward_subj() {   # ward_subj CODE NAME [CN suffix]
    echo "/C=VN/ST=$ST/O=UBND phường $2/CN=UBND phường $2 ($1)${3:-}"
}

new_ca ca "$DB"
new_ca evil-ca "$EVILDB"

for w in "20242 Hải Châu" "20257 Hòa Cường" "20209 Thanh Khê" "20305 An Khê" "20275 An Hải"; do
    code=${w%% *}; wname=${w#* }
    issue "$DB" ca "ward-$code" rsa "$(ward_subj "$code" "$wname")" ext_sign
done
issue "$DB" ca ward-20242-ec ec "$(ward_subj 20242 "Hải Châu")" ext_sign
issue "$DB" ca localhost rsa "/C=VN/ST=$ST/O=motcua dev/CN=localhost" ext_tls
# Same subject DN as ward-20242, issued by the unrelated CA.
issue "$EVILDB" evil-ca evil-ward-20242 rsa "$(ward_subj 20242 "Hải Châu")" ext_sign
issue "$DB" ca ward-20242-expired rsa "$(ward_subj 20242 "Hải Châu" " expired")" ext_sign \
    -startdate 20200101000000Z -enddate 20210101000000Z
issue "$DB" ca ward-20242-notyet rsa "$(ward_subj 20242 "Hải Châu" " not yet valid")" ext_sign \
    -startdate 20900101000000Z -enddate 20950101000000Z
issue "$DB" ca ward-20242-revoked rsa "$(ward_subj 20242 "Hải Châu" " revoked")" ext_sign

# Revoke once (the database remembers), then re-issue the CRL on every run so it stays fresh.
serial=$(openssl x509 -in "$OUT/ward-20242-revoked.crt" -noout -serial | cut -d= -f2)
if ! grep -q "^R.*	$serial	" "$DB/index.txt"; then
    openssl ca -batch -config "$DB/openssl.cnf" -cert "$OUT/ca.crt" -keyfile "$OUT/ca.key" \
        -revoke "$OUT/ward-20242-revoked.crt" -crl_reason keyCompromise 2>"$DB/revoke.log" \
        || { cat "$DB/revoke.log" >&2; exit 1; }
fi
openssl ca -batch -gencrl -config "$DB/openssl.cnf" -cert "$OUT/ca.crt" -keyfile "$OUT/ca.key" \
    -crlexts ext_crl -out "$OUT/crl.pem.tmp" 2>"$DB/crl.log" || { cat "$DB/crl.log" >&2; exit 1; }
mv "$OUT/crl.pem.tmp" "$OUT/crl.pem"

# motcuad's verification-mark key (docs/reuse.md): a server secret, not a certificate key; kept once made.
[ -s "$OUT/mark.key" ] || openssl rand -out "$OUT/mark.key" 32

# Certificates and the CRL are public; keys stay 0600.
chmod 0644 "$OUT"/*.crt "$OUT/crl.pem"
chmod 0600 "$OUT"/*.key
echo "dev CA ready in $OUT"
