using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.Acme.Jose;

namespace AnnexEdge.Acme.Tests;

public sealed class JoseTests
{
    [Fact]
    public void Thumbprint_of_the_RFC_7638_example_key_is_the_published_one()
    {
        // RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1.
        var members = new Dictionary<string, string>
        {
            ["kty"] = "RSA",
            ["n"] = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            ["e"] = "AQAB",
        };

        Assert.Equal("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", JwkThumbprint.Compute(members));
        Assert.StartsWith("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7", Encoding.UTF8.GetString(JwkThumbprint.CanonicalJson(members)));
    }

    [Fact]
    public void Account_key_JWK_is_P256_with_32_byte_coordinates_and_its_thumbprint_covers_crv_kty_x_y()
    {
        using var key = AccountKey.Create();
        var jwk = key.Jwk();

        Assert.Equal("EC", (string?)jwk["kty"]);
        Assert.Equal("P-256", (string?)jwk["crv"]);
        Assert.Equal(32, Base64Url.DecodeFromChars((string)jwk["x"]!).Length);
        Assert.Equal(32, Base64Url.DecodeFromChars((string)jwk["y"]!).Length);
        var canonical = $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{key.X}\",\"y\":\"{key.Y}\"}}";
        Assert.Equal(Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), key.Thumbprint);
    }

    [Fact]
    public void Account_key_survives_a_PEM_round_trip_with_the_same_thumbprint()
    {
        using var key = AccountKey.Create();
        using var again = AccountKey.FromPem(key.ExportPem());

        Assert.Equal(key.Thumbprint, again.Thumbprint);
    }

    [Fact]
    public void Signed_request_with_kid_is_a_flattened_ES256_JWS_with_nonce_and_url()
    {
        using var key = AccountKey.Create();
        var jws = key.Sign("https://ca.test/order", "nonce-1", "https://ca.test/acct/1", new JsonObject { ["a"] = 1 });

        var header = Decode((string)jws["protected"]!);
        Assert.Equal("ES256", (string?)header["alg"]);
        Assert.Equal("https://ca.test/acct/1", (string?)header["kid"]);
        Assert.Null(header["jwk"]);
        Assert.Equal("nonce-1", (string?)header["nonce"]);
        Assert.Equal("https://ca.test/order", (string?)header["url"]);
        Assert.Equal(1, (int)Decode((string)jws["payload"]!)["a"]!);
        var signature = Base64Url.DecodeFromChars((string)jws["signature"]!);
        Assert.Equal(64, signature.Length); // r||s, not DER
        Assert.True(key.Verify((string)jws["protected"]!, (string)jws["payload"]!, signature));
    }

    [Fact]
    public void NewAccount_request_carries_the_JWK_and_POST_as_GET_has_an_empty_payload()
    {
        using var key = AccountKey.Create();
        var jws = key.Sign("https://ca.test/new-account", "n", keyId: null, payload: null);

        var header = Decode((string)jws["protected"]!);
        Assert.Null(header["kid"]);
        Assert.Equal(key.X, (string?)header["jwk"]!["x"]);
        Assert.Equal("", (string?)jws["payload"]);
    }

    [Fact]
    public void External_account_binding_is_HS256_over_the_account_JWK_with_the_CA_key_id()
    {
        using var key = AccountKey.Create();
        var hmacKey = RandomNumberGenerator.GetBytes(32);
        var eab = key.ExternalAccountBinding("https://ca.test/new-account", "kid-1", hmacKey);

        var header = Decode((string)eab["protected"]!);
        Assert.Equal("HS256", (string?)header["alg"]);
        Assert.Equal("kid-1", (string?)header["kid"]);
        Assert.Equal("https://ca.test/new-account", (string?)header["url"]);
        Assert.Null(header["nonce"]);
        Assert.Equal(key.Jwk().ToJsonString(), Decode((string)eab["payload"]!).ToJsonString());
        var expected = HMACSHA256.HashData(hmacKey, Encoding.ASCII.GetBytes($"{eab["protected"]}.{eab["payload"]}"));
        Assert.Equal(Base64Url.EncodeToString(expected), (string?)eab["signature"]);
    }

    [Fact]
    public void Key_authorization_is_token_dot_thumbprint_and_its_digest_is_SHA256()
    {
        var keyAuthorization = JwkThumbprint.KeyAuthorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");

        Assert.Equal("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", keyAuthorization);
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(keyAuthorization)), JwkThumbprint.KeyAuthorizationDigest(keyAuthorization));
    }

    private static JsonNode Decode(string part) => JsonNode.Parse(Base64Url.DecodeFromChars(part))!;
}
