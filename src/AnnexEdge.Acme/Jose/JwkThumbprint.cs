using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AnnexEdge.Acme.Jose;

/// <summary>JWK thumbprints (RFC 7638): SHA-256 over the required members, sorted, without whitespace.</summary>
public static class JwkThumbprint
{
    /// <summary>The thumbprint of a JWK given by its required members (EC: crv, kty, x, y; RSA: e, kty, n).</summary>
    public static string Compute(IReadOnlyDictionary<string, string> requiredMembers)
    {
        return Base64Url.EncodeToString(SHA256.HashData(CanonicalJson(requiredMembers)));
    }

    /// <summary>The members in lexicographic order of their names (RFC 7638 §3.3), as UTF-8.</summary>
    public static byte[] CanonicalJson(IReadOnlyDictionary<string, string> requiredMembers)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in requiredMembers.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                json.WriteString(name, value);
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The key authorization of a challenge token (RFC 8555 §8.1).</summary>
    public static string KeyAuthorization(string token, string thumbprint) => token + "." + thumbprint;

    /// <summary>SHA-256 of the key authorization: the tls-alpn-01 acmeIdentifier value (RFC 8737 §3).</summary>
    public static byte[] KeyAuthorizationDigest(string keyAuthorization) => SHA256.HashData(Encoding.ASCII.GetBytes(keyAuthorization));
}
