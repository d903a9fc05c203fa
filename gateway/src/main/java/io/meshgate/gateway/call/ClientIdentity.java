package io.meshgate.gateway.call;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;

/**
 * Who a client proved to be with its TLS certificate (mTLS): the certificate's URI SANs (a
 * SPIFFE ID such as {@code spiffe://corp.example/ns/web/sa/api}), DNS SANs, subject and SHA-256
 * hash. One per connection, read by routes ({@code auth.principals}), rate limits, the access
 * log and the {@code x-forwarded-client-cert} header.
 *
 * @param uris the URI SANs
 * @param dnsNames the DNS SANs
 * @param subject the subject's distinguished name (RFC 2253)
 * @param sha256 the hex SHA-256 of the certificate's DER encoding
 */
public record ClientIdentity(List<String> uris, List<String> dnsNames, String subject,
    String sha256) {
  public ClientIdentity {
    uris = List.copyOf(uris);
    dnsNames = List.copyOf(dnsNames);
  }

  /** The identity {@code certificate} proves. */
  public static ClientIdentity of(X509Certificate certificate) {
    List<String> uris = subjectAltNames(certificate, URI);
    List<String> dns = subjectAltNames(certificate, DNS);
    String hash;
    try {
      hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(certificate.getEncoded()));
    } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
      throw new IllegalStateException("cannot hash a client certificate", e);
    }
    return new ClientIdentity(uris, dns, certificate.getSubjectX500Principal().getName(), hash);
  }

  /** The SAN type numbers of RFC 5280: DNS name, URI, IP address. */
  public static final int DNS = 2;
  public static final int URI = 6;
  public static final int IP = 7;

  /** The subject alternative names of {@code certificate} of the given types, in order. */
  public static List<String> subjectAltNames(X509Certificate certificate, int... types) {
    List<String> names = new ArrayList<>();
    try {
      Collection<List<?>> entries = certificate.getSubjectAlternativeNames();
      if (entries != null) {
        for (List<?> entry : entries) {
          int type = (Integer) entry.get(0);
          for (int wanted : types) {
            if (type == wanted) {
              names.add(String.valueOf(entry.get(1)));
            }
          }
        }
      }
    } catch (CertificateParsingException e) {
      // no readable SANs
    }
    return names;
  }

  /**
   * The name rate limits and logs use: the first URI SAN, else the first DNS SAN, else the
   * subject.
   */
  public String principal() {
    if (!uris.isEmpty()) {
      return uris.get(0);
    }
    return dnsNames.isEmpty() ? subject : dnsNames.get(0);
  }

  /**
   * Whether a URI or DNS SAN matches {@code pattern}: exactly, or, for a pattern ending in
   * {@code *}, by the part before it ({@code spiffe://corp.example/ns/web/*}).
   */
  public boolean matches(String pattern) {
    for (List<String> names : List.of(uris, dnsNames)) {
      for (String name : names) {
        if (pattern.endsWith("*") ? name.startsWith(pattern.substring(0, pattern.length() - 1))
            : name.equals(pattern)) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * This identity as one element of an {@code x-forwarded-client-cert} header, in Envoy's
   * format: {@code By=<the gateway's URI SAN>;Hash=<sha256>;Subject="<subject>";URI=<uri>;DNS=<dns>}
   * (By only when the gateway's own certificate has a URI SAN).
   */
  public String xfccElement(String by) {
    StringBuilder element = new StringBuilder();
    if (by != null) {
      element.append("By=").append(by).append(';');
    }
    element.append("Hash=").append(sha256);
    element.append(";Subject=\"").append(subject.replace("\\", "\\\\").replace("\"", "\\\""))
        .append('"');
    for (String uri : uris) {
      element.append(";URI=").append(uri);
    }
    for (String dns : dnsNames) {
      element.append(";DNS=").append(dns);
    }
    return element.toString();
  }
}
