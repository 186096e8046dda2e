using System.Text;

namespace AnnexEdge.Security;

/// <summary>HTTP Basic credentials as p2phttp uses them: realm <c>git-annex</c>, UTF-8 user and password.</summary>
internal readonly record struct BasicCredentials(string User, string Password)
{
    public const string Challenge = "Basic realm=\"git-annex\", charset=\"UTF-8\"";

    /// <summary>Parses an Authorization header value; false for any other scheme or a malformed value.</summary>
    public static bool TryParse(string? header, out BasicCredentials credentials)
    {
        credentials = default;
        if (header is null || header.Length <= 6 || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var encoded = header.AsSpan(6).Trim();
        var buffer = new byte[encoded.Length];
        if (!Convert.TryFromBase64Chars(encoded, buffer, out var written))
        {
            return false;
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        // The user name cannot hold a colon (RFC 7617); the password may.
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }

        credentials = new BasicCredentials(decoded[..colon], decoded[(colon + 1)..]);
        return true;
    }
}
