using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Locking;

/// <summary>
/// Wraps a backend's lockid in a signed token naming the backend that granted the lock, so the client's later
/// <c>keeplocked</c> reaches that very backend through any edge process sharing the key. The token is opaque
/// to git-annex (it accepts any non-empty string as a lockid) and safe in a URL.
/// Format: <c>ae1.</c>base64url(repository UUID \n backend id \n backend lockid)<c>.</c>base64url(HMAC-SHA256, 16 bytes).
/// </summary>
internal sealed class LockTokenCodec
{
    private const string Prefix = "ae1.";
    private const int MacLength = 16;
    private const int MaxTokenLength = 2048;

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

    public string Issue(string repositoryUuid, string backendId, string backendLockId)
    {
        var payload = Encoding.UTF8.GetBytes($"{repositoryUuid}\n{backendId}\n{backendLockId}");
        return Prefix + Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(Mac(payload));
    }

    /// <summary>Reads a token issued for this repository; false for anything forged, altered or meant for another repository.</summary>
    public bool TryRead(string token, string repositoryUuid, out string backendId, out string backendLockId)
    {
        backendId = backendLockId = "";
        if (token.Length > MaxTokenLength || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var body = token.AsSpan(Prefix.Length);
        var dot = body.IndexOf('.');
        if (dot < 0)
        {
            return false;
        }

        byte[] payload, mac;
        try
        {
            payload = Base64Url.DecodeFromChars(body[..dot]);
            mac = Base64Url.DecodeFromChars(body[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return false;
        }

        if (!CryptographicOperations.FixedTimeEquals(mac, Mac(payload)))
        {
            return false;
        }

        var parts = Encoding.UTF8.GetString(payload).Split('\n', 3);
        if (parts.Length != 3 || parts[0] != repositoryUuid || parts[1].Length == 0 || parts[2].Length == 0)
        {
            return false;
        }

        backendId = parts[1];
        backendLockId = parts[2];
        return true;
    }

    private byte[] Mac(byte[] payload) => HMACSHA256.HashData(_key, payload).AsSpan(0, MacLength).ToArray();
}
