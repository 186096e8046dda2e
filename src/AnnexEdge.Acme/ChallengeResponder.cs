using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Acme;

/// <summary>The answers to pending challenges, read by the HTTP middleware (http-01) and the TLS handshake (tls-alpn-01).</summary>
public sealed class ChallengeResponder
{
    private readonly ConcurrentDictionary<string, string> _httpTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, X509Certificate2> _tlsAlpn = new(StringComparer.OrdinalIgnoreCase);

    public void AddHttp01(string token, string keyAuthorization) => _httpTokens[token] = keyAuthorization;

    public void RemoveHttp01(string token) => _httpTokens.TryRemove(token, out _);

    public string? Http01(string token) => _httpTokens.TryGetValue(token, out var answer) ? answer : null;

    // Challenge certificates are not disposed on removal: a handshake may still be using one.
    public void AddTlsAlpn01(string domain, X509Certificate2 certificate) => _tlsAlpn[domain] = certificate;

    public void RemoveTlsAlpn01(string domain) => _tlsAlpn.TryRemove(domain, out _);

    public X509Certificate2? TlsAlpn01(string? domain) => domain is not null && _tlsAlpn.TryGetValue(domain, out var certificate) ? certificate : null;
}
