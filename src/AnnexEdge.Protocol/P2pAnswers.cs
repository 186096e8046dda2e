using System.Text.Json;

namespace AnnexEdge.Protocol;

/// <summary>
/// The JSON answers of the p2phttp API as git-annex shapes them for each protocol version
/// (v0 and v1 answers carry no <c>plusuuids</c>).
/// </summary>
public static class P2pAnswers
{
    public static byte[] Present(bool present) => Write(w => w.WriteBoolean("present", present));

    /// <summary><c>{"locked": bool}</c>, with the lockid of a granted lock (a refusal never carries one).</summary>
    public static byte[] Locked(bool locked, string? lockId = null) => Write(w =>
    {
        w.WriteBoolean("locked", locked);
        if (locked && lockId is not null)
        {
            w.WriteString("lockid", lockId);
        }
    });

    public static byte[] Timestamp(long timestamp) => Write(w => w.WriteNumber("timestamp", timestamp));

    public static byte[] Offset(long offset) => Write(w => w.WriteNumber("offset", offset));

    public static byte[] Removed(bool removed, IReadOnlyCollection<string> plusUuids, int version) =>
        WithPlus("removed", removed, plusUuids, version);

    public static byte[] Stored(bool stored, IReadOnlyCollection<string> plusUuids, int version) =>
        WithPlus("stored", stored, plusUuids, version);

    public static byte[] AlreadyHave(IReadOnlyCollection<string> plusUuids, int version) =>
        WithPlus("alreadyhave", true, plusUuids, version);

    private static byte[] WithPlus(string field, bool value, IReadOnlyCollection<string> plusUuids, int version) => Write(w =>
    {
        // git-annex (aeson) writes an object's keys in alphabetical order.
        var fieldFirst = string.CompareOrdinal(field, "plusuuids") < 0;
        if (fieldFirst)
        {
            w.WriteBoolean(field, value);
        }

        if (version >= 2)
        {
            w.WriteStartArray("plusuuids");
            foreach (var uuid in plusUuids)
            {
                w.WriteStringValue(uuid);
            }

            w.WriteEndArray();
        }

        if (!fieldFirst)
        {
            w.WriteBoolean(field, value);
        }
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream(64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
