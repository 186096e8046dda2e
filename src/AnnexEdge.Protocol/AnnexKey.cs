namespace AnnexEdge.Protocol;

/// <summary>
/// Syntax of a git-annex key, as git-annex's own strict parser accepts it:
/// <c>VARIETY[-sSIZE][-mMTIME][-SCHUNKSIZE][-CCHUNKNUM]--NAME</c>, fields in that order, numbers only.
/// </summary>
public static class AnnexKey
{
    public const string ParseError = "key parse error";

    private static readonly char[] FieldLetters = ['s', 'm', 'S', 'C'];

    public static bool IsValid(string key) => TryParse(key, out _);

    /// <summary>Parses the key; <paramref name="size"/> is its <c>-s</c> field when it has one.</summary>
    public static bool TryParse(string key, out long? size)
    {
        size = null;
        var variety = key.IndexOf('-', StringComparison.Ordinal);
        if (variety <= 0)
        {
            return false;
        }

        var pos = variety;
        foreach (var letter in FieldLetters)
        {
            // An optional field "-<letter><digits>"; when it does not match, the parser backtracks.
            if (pos + 2 < key.Length && key[pos] == '-' && key[pos + 1] == letter && char.IsAsciiDigit(key[pos + 2]))
            {
                var end = pos + 2;
                while (end < key.Length && char.IsAsciiDigit(key[end]))
                {
                    end++;
                }

                if (letter == 's')
                {
                    size = long.TryParse(key.AsSpan(pos + 2, end - pos - 2), out var s) ? s : long.MaxValue;
                }

                pos = end;
            }
        }

        return pos + 1 < key.Length && key[pos] == '-' && key[pos + 1] == '-';
    }
}
