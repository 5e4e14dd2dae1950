// Whether a failed connection means the TLS peer refused our identity: an alert the server
// sent about the certificate we presented (or did not present). Such a failure is
// Unauthenticated; every other TLS failure (we refused the server's certificate, the peer
// is not speaking TLS) stays Unavailable (docs/SECURITY.md, "TLS errors").

/** OpenSSL's codes for alerts received from the peer that say it refused our certificate. */
const REFUSED_ALERT = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(?:CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

/** True when `error` or one of its causes is a TLS alert by which the peer refused our certificate. */
export function refusedByTlsPeer(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && REFUSED_ALERT.test(code)) return true;
  }
  return false;
}
