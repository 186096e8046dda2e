using System.Text.Json;

namespace AnnexEdge.Clusters;

/// <summary>
/// A node's JSON answer, read strictly: a field counts only when it has the JSON type git-annex gives it, so a
/// garbled answer is never taken for success.
/// </summary>
internal sealed class NodeAnswer
{
    private readonly JsonElement _root;

    private NodeAnswer(JsonElement root)
    {
        _root = root;
    }

    public static NodeAnswer? Parse(ReadOnlySpan<byte> json)
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

            return doc.RootElement.ValueKind == JsonValueKind.Object ? new NodeAnswer(doc.RootElement.Clone()) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public bool? Bool(string name) =>
        _root.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    public long? Integer(string name) =>
        _root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : null;

    public IReadOnlyList<string> PlusUuids()
    {
        if (!_root.TryGetProperty("plusuuids", out var v) || v.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray();
    }
}
