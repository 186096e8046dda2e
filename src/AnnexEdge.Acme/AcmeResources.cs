using System.Text.Json;
using System.Text.Json.Serialization;

namespace AnnexEdge.Acme;

/// <summary>The directory (RFC 8555 §7.1.1); <see cref="RenewalInfo"/> is RFC 9773's ARI endpoint when offered.</summary>
public sealed record AcmeDirectory(
    [property: JsonPropertyName("newNonce")] string NewNonce,
    [property: JsonPropertyName("newAccount")] string NewAccount,
    [property: JsonPropertyName("newOrder")] string NewOrder,
    [property: JsonPropertyName("renewalInfo")] string? RenewalInfo,
    [property: JsonPropertyName("meta")] AcmeDirectoryMeta? Meta);

public sealed record AcmeDirectoryMeta(
    [property: JsonPropertyName("termsOfService")] string? TermsOfService,
    [property: JsonPropertyName("externalAccountRequired")] bool ExternalAccountRequired);

public sealed record AcmeIdentifier(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("value")] string Value);

public sealed record AcmeOrder(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("identifiers")] IReadOnlyList<AcmeIdentifier> Identifiers,
    [property: JsonPropertyName("authorizations")] IReadOnlyList<string> Authorizations,
    [property: JsonPropertyName("finalize")] string Finalize,
    [property: JsonPropertyName("certificate")] string? Certificate,
    [property: JsonPropertyName("error")] JsonElement? Error)
{
    /// <summary>The order's own URL, from the Location header of newOrder.</summary>
    [JsonIgnore]
    public string Url { get; init; } = "";
}

public sealed record AcmeAuthorization(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("identifier")] AcmeIdentifier Identifier,
    [property: JsonPropertyName("challenges")] IReadOnlyList<AcmeChallenge> Challenges);

public sealed record AcmeChallenge(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("token")] string? Token,
    [property: JsonPropertyName("error")] JsonElement? Error);

/// <summary>RFC 9773's suggested renewal window, and when to ask again.</summary>
public sealed record RenewalInfo(DateTimeOffset WindowStart, DateTimeOffset WindowEnd, TimeSpan? RetryAfter, string? ExplanationUrl);

/// <summary>A downloaded certificate chain: leaf first, PEM.</summary>
public sealed record CertificateChain(string Pem, IReadOnlyList<string> IssuerNames);
