using System.Text.Json;

namespace AnnexEdge.Locking;

/// <summary>A backend's answer to <c>lockcontent</c>: <c>{"locked": bool, "lockid": string?}</c>.</summary>
public sealed record LockAnswer(bool Locked, string? LockId)
{
    /// <summary>
    /// Parses the answer strictly: anything but an object with a boolean "locked", and a non-empty string "lockid"
    /// when locked, is not an answer.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out LockAnswer answer)
    {
        answer = new LockAnswer(false, null);
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("locked", out var locked)
                || locked.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return false;
            }

            string? lockId = null;
            if (root.TryGetProperty("lockid", out var id))
            {
                if (id.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(id.GetString()))
                {
                    return false;
                }

                lockId = id.GetString();
            }

            // A lock without a lockid cannot be kept or released: git-annex takes it as a failure, so must the edge.
            if (locked.GetBoolean() && lockId is null)
            {
                return false;
            }

            answer = new LockAnswer(locked.GetBoolean(), lockId);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(
        LockId is null ? new Dictionary<string, object> { ["locked"] = Locked } : new Dictionary<string, object> { ["locked"] = Locked, ["lockid"] = LockId });
}
