namespace AnnexEdge.Protocol;

/// <summary>
/// A raw query string split into parameters in order, decoded as git-annex's server decodes them
/// ('+' is a space). A parameter written without '=' has a null value; it differs from "name=".
/// </summary>
public sealed class P2pQuery
{
    private readonly List<KeyValuePair<string, string?>> _parameters = [];

    private P2pQuery()
    {
    }

    public IReadOnlyList<KeyValuePair<string, string?>> Parameters => _parameters;

    public static P2pQuery Parse(string? raw)
    {
        var query = new P2pQuery();
        if (string.IsNullOrEmpty(raw))
        {
            return query;
        }

        var span = raw.AsSpan();
        if (span[0] == '?')
        {
            span = span[1..];
        }

        // git-annex's HTTP stack splits on ';' as well as '&': so must the edge, or the two would read different parameters.
        foreach (var range in span.SplitAny('&', ';'))
        {
            var part = span[range];
            if (part.IsEmpty)
            {
                continue;
            }

            var eq = part.IndexOf('=');
            if (eq < 0)
            {
                query._parameters.Add(new(Decode(part), null));
            }
            else
            {
                query._parameters.Add(new(Decode(part[..eq]), Decode(part[(eq + 1)..])));
            }
        }

        return query;
    }

    /// <summary>The first value of a parameter (git-annex ignores repeats); <paramref name="present"/> tells whether it was given at all.</summary>
    public string? First(string name, out bool present)
    {
        foreach (var (k, v) in _parameters)
        {
            if (k == name)
            {
                present = true;
                return v;
            }
        }

        present = false;
        return null;
    }

    public IEnumerable<string?> All(string name)
    {
        foreach (var (k, v) in _parameters)
        {
            if (k == name)
            {
                yield return v;
            }
        }
    }

    private static string Decode(ReadOnlySpan<char> s)
    {
        var text = s.ToString().Replace('+', ' ');
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            return text;
        }
    }
}
