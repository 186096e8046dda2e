using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Locking;

/// <summary>
/// A lock granted through the edge, as its token names it: the backend that granted it and the backend's lockid, and
/// what the lock was for (repository, key, who asked, when), so a token is good for that lock only, for its lifetime.
/// </summary>
internal sealed record LockToken(
    string RepositoryUuid, string BackendId, string BackendLockId, string Key, LockPrincipal Principal, DateTimeOffset IssuedAt);

/// <summary>What reading a lockid told.</summary>
internal enum LockTokenRead
{
    Valid,

    /// <summary>Forged, altered, signed with another key, for another repository, or not a token at all.</summary>
    Refused,

    /// <summary>Signed by this key in an earlier format (<c>ae1.</c>, which bound no key, principal or time).</summary>
    Outdated,
}

/// <summary>
/// Signs and reads lock tokens, the lockids the edge hands clients in place of the backend's own, so the client's
/// later <c>keeplocked</c> reaches the very backend that granted the lock, through any edge process sharing the key.
/// Opaque to git-annex (it accepts any non-empty string as a lockid) and safe in a URL.
/// Format: <c>ae2.</c>base64url(JSON of <see cref="LockToken"/>)<c>.</c>base64url(HMAC-SHA256 of it, 16 bytes).
/// The prefix is the format's version: a token of another version is refused, never read as this one.
/// </summary>
internal sealed class LockTokenCodec
{
    private const string Prefix = "ae2.";
    private const string OutdatedPrefix = "ae1.";
    private const int MacLength = 16;
    private const int MaxTokenLength = 4096;

    /// <summary>The payload's string parts: repository, backend, backend lockid, key, principal.</summary>
    private static readonly string[] StringParts = ["r", "b", "l", "k", "p"];

    private readonly byte[] _key;

    public LockTokenCodec(IOptions<AnnexEdgeOptions> options)
        : this(options.Value.Locking.TokenKey is { } key ? Convert.FromBase64String(key) : RandomNumberGenerator.GetBytes(32))
    {
        IsEphemeral = options.Value.Locking.TokenKey is null;
    }

    public LockTokenCodec(byte[] key)
    {
        _key = key;
    }

    /// <summary>True when the key was made at start-up: tokens are valid for this process only.</summary>
    public bool IsEphemeral { get; }

    public string Issue(LockToken token)
    {
        using var payload = new MemoryStream();
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            json.WriteString("r", token.RepositoryUuid);
            json.WriteString("b", token.BackendId);
            json.WriteString("l", token.BackendLockId);
            json.WriteString("k", token.Key);
            json.WriteString("p", token.Principal.Id);
            json.WriteNumber("t", token.IssuedAt.ToUnixTimeMilliseconds());
            json.WriteEndObject();
        }

        var bytes = payload.ToArray();
        return Prefix + Base64Url.EncodeToString(bytes) + "." + Base64Url.EncodeToString(Mac(Prefix, bytes));
    }

    /// <summary>Reads a token this edge issued for this repository; anything else is refused (and never throws).</summary>
    public LockTokenRead TryRead(string token, string repositoryUuid, out LockToken? lockToken)
    {
        lockToken = null;
        if (token.Length > MaxTokenLength)
        {
            return LockTokenRead.Refused;
        }

        if (token.StartsWith(OutdatedPrefix, StringComparison.Ordinal))
        {
            // That format signed the payload alone.
            return Verify(token.AsSpan(OutdatedPrefix.Length), "") is null ? LockTokenRead.Refused : LockTokenRead.Outdated;
        }

        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || Verify(token.AsSpan(Prefix.Length), Prefix) is not { } payload)
        {
            return LockTokenRead.Refused;
        }

        lockToken = Parse(payload);
        if (lockToken?.RepositoryUuid != repositoryUuid)
        {
            lockToken = null;
            return LockTokenRead.Refused;
        }

        return LockTokenRead.Valid;
    }

    /// <summary>The payload of <c>payload.mac</c> when the MAC is this key's over the version and payload, else null.</summary>
    private byte[]? Verify(ReadOnlySpan<char> body, string version)
    {
        var dot = body.IndexOf('.');
        if (dot < 0)
        {
            return null;
        }

        byte[] payload, mac;
        try
        {
            payload = Base64Url.DecodeFromChars(body[..dot]);
            mac = Base64Url.DecodeFromChars(body[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }

        return CryptographicOperations.FixedTimeEquals(mac, Mac(version, payload)) ? payload : null;
    }

    /// <summary>Reads a signed payload; null when it lacks a part (only a bug or a shared key could sign such a one).</summary>
    private static LockToken? Parse(byte[] payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload);
            var root = document.RootElement;
            var parts = StringParts
                .Select(name => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null)
                .ToArray();
            if (parts.Any(string.IsNullOrEmpty)
                || LockPrincipal.Parse(parts[4]!) is not { } principal
                || !root.TryGetProperty("t", out var issued)
                || !issued.TryGetInt64(out var milliseconds))
            {
                return null;
            }

            return new LockToken(parts[0]!, parts[1]!, parts[2]!, parts[3]!, principal, DateTimeOffset.FromUnixTimeMilliseconds(milliseconds));
        }
        catch (Exception e) when (e is JsonException or ArgumentOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The MAC covers the version too, so a payload signed for one format is never read as another.</summary>
    private byte[] Mac(string version, byte[] payload)
    {
        byte[] signed = [.. System.Text.Encoding.ASCII.GetBytes(version), .. payload];
        return HMACSHA256.HashData(_key, signed).AsSpan(0, MacLength).ToArray();
    }
}
