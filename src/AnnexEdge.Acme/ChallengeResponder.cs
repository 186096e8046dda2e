using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Acme;

/// <summary>
/// The answers to pending challenges, read by the HTTP middleware (http-01) and the TLS handshake (tls-alpn-01).
/// With a store, http-01 answers are also written under <c>StorePath/challenges/</c>, so that every edge process
/// sharing the store answers the CA's validation request, whichever process placed the order.
/// </summary>
public sealed class ChallengeResponder(CertificateStore? store = null)
{
    // RFC 8555 §8.3: a token is base64url; checking that also keeps it a plain file name.
    private static readonly SearchValues<char> TokenCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private readonly ConcurrentDictionary<string, string> _httpTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, X509Certificate2> _tlsAlpn = new(StringComparer.OrdinalIgnoreCase);

    public static bool IsToken(string token) => token.Length is > 0 and <= 256 && !token.AsSpan().ContainsAnyExcept(TokenCharacters);

    public void AddHttp01(string token, string keyAuthorization)
    {
        if (!IsToken(token))
        {
            throw new AcmeProblemException($"the ACME server sent a challenge token that is not base64url: \"{token}\"");
        }

        _httpTokens[token] = keyAuthorization;
        store?.SaveHttp01(token, keyAuthorization);
    }

    public void RemoveHttp01(string token)
    {
        _httpTokens.TryRemove(token, out _);
        store?.DeleteHttp01(token);
    }

    /// <summary>This process's answer, else one another process sharing the store published.</summary>
    public string? Http01(string token)
    {
        if (!IsToken(token))
        {
            return null;
        }

        return _httpTokens.TryGetValue(token, out var answer) ? answer : store?.LoadHttp01(token);
    }

    // Challenge certificates are not disposed on removal: a handshake may still be using one.
    public void AddTlsAlpn01(string domain, X509Certificate2 certificate) => _tlsAlpn[domain] = certificate;

    public void RemoveTlsAlpn01(string domain) => _tlsAlpn.TryRemove(domain, out _);

    public X509Certificate2? TlsAlpn01(string? domain) => domain is not null && _tlsAlpn.TryGetValue(domain, out var certificate) ? certificate : null;
}
