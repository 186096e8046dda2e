using System.Text.Json;

namespace AnnexEdge.Protocol;

/// <summary>
/// A JSON object of the p2phttp API as a backend sends it (an answer) or a client sends it (a keeplocked message),
/// read strictly: a field counts only when it has the JSON type git-annex gives it, so a garbled answer is never taken
/// for success. The one reader of p2phttp JSON; <see cref="P2pAnswers"/> is the one writer.
/// </summary>
public sealed class P2pAnswer
{
    /// <summary>
    /// The largest answer read: every p2phttp answer is a small object (plusuuids of some 400 nodes fit), and anything
    /// larger is not taken for one.
    /// </summary>
    public const int MaxBytes = 16 * 1024;

    private readonly JsonElement _root;

    private P2pAnswer(JsonElement root)
    {
        _root = root;
    }

    /// <summary>The object, or null when the bytes are not exactly one JSON object.</summary>
    public static P2pAnswer? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            // Anything after the object (a second answer, stray bytes) makes the whole answer garbled: Read throws.
            if (reader.Read())
            {
                return null;
            }

            return doc.RootElement.ValueKind == JsonValueKind.Object ? new P2pAnswer(doc.RootElement.Clone()) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The one strict reading of <c>X-git-annex-data-length</c> in a backend's answer: exactly one value, digits only.
    /// (A client's header on <c>put</c> is read as git-annex's server reads it, by <see cref="P2pRequestParser"/>.)
    /// </summary>
    public static bool TryReadDataLength(IEnumerable<string>? values, out long length)
    {
        length = 0;
        using var e = values?.GetEnumerator();
        if (e is null || !e.MoveNext())
        {
            return false;
        }

        var value = e.Current;
        return !e.MoveNext() && value.Length is > 0 and <= 19 && !value.AsSpan().ContainsAnyExceptInRange('0', '9')
            && long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out length);
    }

    public bool? Bool(string name) =>
        _root.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    public long? Number(string name) =>
        _root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : null;

    public IReadOnlyList<string> PlusUuids()
    {
        if (!_root.TryGetProperty("plusuuids", out var v) || v.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray();
    }

    /// <summary>
    /// A <c>lockcontent</c> answer, <c>{"locked": bool, "lockid": string}</c>: false when it is not one. A lock without
    /// a lockid cannot be kept or released: git-annex takes it as a failure, so must the edge; a lockid that is not a
    /// non-empty string is no answer either.
    /// </summary>
    public bool TryReadLock(out bool locked, out string? lockId)
    {
        locked = false;
        lockId = null;
        if (Bool("locked") is not { } isLocked)
        {
            return false;
        }

        if (_root.TryGetProperty("lockid", out var id))
        {
            if (id.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(id.GetString()))
            {
                return false;
            }

            lockId = id.GetString();
        }

        if (isLocked && lockId is null)
        {
            return false;
        }

        locked = isLocked;
        return true;
    }
}
