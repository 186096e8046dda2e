using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AnnexEdge.Acme.Jose;

/// <summary>The ACME account key: EC P-256, signing ES256 flattened JWS (RFC 7515, RFC 8555 §6.2).</summary>
public sealed class AccountKey : IDisposable
{
    private readonly ECDsa _key;

    public AccountKey(ECDsa key)
    {
        var parameters = key.ExportParameters(false);
        if (parameters.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw new ArgumentException("the ACME account key must be on curve P-256", nameof(key));
        }

        _key = key;
        X = Base64Url.EncodeToString(parameters.Q.X);
        Y = Base64Url.EncodeToString(parameters.Q.Y);
        Thumbprint = JwkThumbprint.Compute(RequiredMembers());
    }

    public string X { get; }

    public string Y { get; }

    /// <summary>The RFC 7638 thumbprint, the second half of every key authorization.</summary>
    public string Thumbprint { get; }

    public static AccountKey Create() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public static AccountKey FromPem(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return new AccountKey(key);
    }

    public string ExportPem() => _key.ExportPkcs8PrivateKeyPem();

    /// <summary>The public JWK as RFC 8555 §6.2 wants it in the header of newAccount.</summary>
    public JsonObject Jwk() => new() { ["crv"] = "P-256", ["kty"] = "EC", ["x"] = X, ["y"] = Y };

    public Dictionary<string, string> RequiredMembers() => new(StringComparer.Ordinal)
    {
        ["crv"] = "P-256",
        ["kty"] = "EC",
        ["x"] = X,
        ["y"] = Y,
    };

    /// <summary>
    /// A flattened JWS: <paramref name="payload"/> null means POST-as-GET (empty payload, RFC 8555 §6.3).
    /// With <paramref name="keyId"/> null the header carries the JWK (newAccount, revoke by key).
    /// </summary>
    public JsonObject Sign(string url, string? nonce, string? keyId, JsonNode? payload)
    {
        var header = new JsonObject { ["alg"] = "ES256" };
        if (keyId is null)
        {
            header["jwk"] = Jwk();
        }
        else
        {
            header["kid"] = keyId;
        }

        if (nonce is not null)
        {
            header["nonce"] = nonce;
        }

        header["url"] = url;
        var protectedPart = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header));
        var payloadPart = payload is null ? "" : Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(payload));
        // JWS wants the raw r||s form (RFC 7518 §3.4), which is .NET's IEEE P1363 format.
        var signature = _key.SignData(
            System.Text.Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart),
            HashAlgorithmName.SHA256,
            DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new JsonObject
        {
            ["protected"] = protectedPart,
            ["payload"] = payloadPart,
            ["signature"] = Base64Url.EncodeToString(signature),
        };
    }

    /// <summary>
    /// The External Account Binding (RFC 8555 §7.3.4): the account JWK signed with the CA's HMAC key (HS256).
    /// </summary>
    public JsonObject ExternalAccountBinding(string newAccountUrl, string eabKeyId, byte[] hmacKey)
    {
        var header = new JsonObject { ["alg"] = "HS256", ["kid"] = eabKeyId, ["url"] = newAccountUrl };
        var protectedPart = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header));
        var payloadPart = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(Jwk()));
        var mac = HMACSHA256.HashData(hmacKey, System.Text.Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart));
        return new JsonObject
        {
            ["protected"] = protectedPart,
            ["payload"] = payloadPart,
            ["signature"] = Base64Url.EncodeToString(mac),
        };
    }

    public bool Verify(string protectedPart, string payloadPart, byte[] signature) =>
        _key.VerifyData(
            System.Text.Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart),
            signature,
            HashAlgorithmName.SHA256,
            DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    public void Dispose() => _key.Dispose();
}
