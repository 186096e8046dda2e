using AnnexEdge.Protocol;

namespace AnnexEdge.Security;

/// <summary>What a principal may do with a repository or cluster, in the order of <c>git annex p2phttp</c>'s modes.</summary>
internal enum AccessLevel
{
    None,
    ReadOnly,
    AppendOnly,
    Full,
}

/// <summary>The classes of p2phttp requests that permissions are granted for.</summary>
internal enum P2pAction
{
    /// <summary>GET key, checkpresent, gettimestamp.</summary>
    Read,

    /// <summary>lockcontent, keeplocked: pins content (and a node worker), so it is more than a read.</summary>
    Lock,

    /// <summary>put, putoffset.</summary>
    Write,

    /// <summary>remove, remove-before.</summary>
    Remove,
}

internal static class AccessLevels
{
    public static bool TryParse(string? value, out AccessLevel level)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "none": level = AccessLevel.None; return true;
            case "readonly": level = AccessLevel.ReadOnly; return true;
            case "appendonly": level = AccessLevel.AppendOnly; return true;
            case "full": level = AccessLevel.Full; return true;
            default: level = AccessLevel.None; return false;
        }
    }

    public static string Name(this AccessLevel level) => level switch
    {
        AccessLevel.ReadOnly => "readonly",
        AccessLevel.AppendOnly => "appendonly",
        AccessLevel.Full => "full",
        _ => "none",
    };

    public static P2pAction Action(this P2pEndpoint endpoint) => endpoint switch
    {
        P2pEndpoint.LockContent or P2pEndpoint.KeepLocked => P2pAction.Lock,
        P2pEndpoint.Put or P2pEndpoint.PutOffset => P2pAction.Write,
        P2pEndpoint.Remove or P2pEndpoint.RemoveBefore => P2pAction.Remove,
        _ => P2pAction.Read,
    };
}
