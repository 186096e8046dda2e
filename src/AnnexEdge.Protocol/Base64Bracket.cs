using System.Buffers.Text;
using System.Text;

namespace AnnexEdge.Protocol;

/// <summary>
/// The p2phttp convention for values that may not be UTF-8: a key, UUID or filename wrapped in square
/// brackets is base64url encoded ("[Zm9v]" is "foo"). Anything else is taken literally.
/// </summary>
public static class Base64Bracket
{
    public const string DecodeError = "unable to base64 decode [] wrapped value";

    /// <summary>Decodes a possibly bracketed value. Returns false when the brackets hold no valid base64.</summary>
    public static bool TryDecode(string raw, out string value)
    {
        if (raw.Length < 2 || raw[0] != '[' || raw[^1] != ']')
        {
            value = raw;
            return true;
        }

        var inner = raw.AsSpan(1, raw.Length - 2);
        // git-annex requires padding and the url-safe alphabet only ('+', '/' and blanks are refused).
        if (inner.Length % 4 != 0)
        {
            value = "";
            return false;
        }

        Span<char> normalized = inner.Length <= 1024 ? stackalloc char[inner.Length] : new char[inner.Length];
        for (var i = 0; i < inner.Length; i++)
        {
            var c = inner[i];
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '='))
            {
                value = "";
                return false;
            }

            normalized[i] = c switch { '-' => '+', '_' => '/', _ => c };
        }

        var bytes = new byte[inner.Length / 4 * 3];
        if (!Convert.TryFromBase64Chars(normalized, bytes, out var written))
        {
            value = "";
            return false;
        }

        value = Encoding.UTF8.GetString(bytes, 0, written);
        return true;
    }

    /// <summary>Wraps a value in brackets as base64url (always safe in a URL).</summary>
    public static string Encode(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        return "[" + Base64Url.EncodeToString(bytes) + new string('=', (3 - bytes.Length % 3) % 3) + "]";
    }
}
