namespace AnnexEdge.Protocol;

/// <summary>The requests of git-annex's P2P protocol over HTTP.</summary>
public enum P2pEndpoint
{
    /// <summary>GET .../key/KEY: the content of a key (also unversioned).</summary>
    Key,
    CheckPresent,
    LockContent,
    KeepLocked,
    Remove,
    RemoveBefore,
    GetTimestamp,
    Put,
    PutOffset,
}

public static class P2pEndpoints
{
    /// <summary>Protocol versions this API knows (path segment vN).</summary>
    public const int MaxVersion = 4;

    /// <summary>The endpoint named by a path segment, as git-annex spells it.</summary>
    public static bool TryParseName(string segment, out P2pEndpoint endpoint)
    {
        switch (segment)
        {
            case "key": endpoint = P2pEndpoint.Key; return true;
            case "checkpresent": endpoint = P2pEndpoint.CheckPresent; return true;
            case "lockcontent": endpoint = P2pEndpoint.LockContent; return true;
            case "keeplocked": endpoint = P2pEndpoint.KeepLocked; return true;
            case "remove": endpoint = P2pEndpoint.Remove; return true;
            case "remove-before": endpoint = P2pEndpoint.RemoveBefore; return true;
            case "gettimestamp": endpoint = P2pEndpoint.GetTimestamp; return true;
            case "put": endpoint = P2pEndpoint.Put; return true;
            case "putoffset": endpoint = P2pEndpoint.PutOffset; return true;
            default: endpoint = default; return false;
        }
    }

    public static string Name(this P2pEndpoint endpoint) => endpoint switch
    {
        P2pEndpoint.Key => "key",
        P2pEndpoint.CheckPresent => "checkpresent",
        P2pEndpoint.LockContent => "lockcontent",
        P2pEndpoint.KeepLocked => "keeplocked",
        P2pEndpoint.Remove => "remove",
        P2pEndpoint.RemoveBefore => "remove-before",
        P2pEndpoint.GetTimestamp => "gettimestamp",
        P2pEndpoint.Put => "put",
        P2pEndpoint.PutOffset => "putoffset",
        _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
    };

    /// <summary>The oldest protocol version that has the endpoint (remove-before and gettimestamp came with v3, putoffset with v1).</summary>
    public static int MinVersion(this P2pEndpoint endpoint) => endpoint switch
    {
        P2pEndpoint.RemoveBefore or P2pEndpoint.GetTimestamp => 3,
        P2pEndpoint.PutOffset => 1,
        _ => 0,
    };

    /// <summary>Whether answers of this version carry <c>plusuuids</c> (v2 and later, for put, putoffset and remove).</summary>
    public static bool HasPlusUuids(this P2pEndpoint endpoint, int version) =>
        version >= 2 && endpoint is P2pEndpoint.Put or P2pEndpoint.PutOffset or P2pEndpoint.Remove or P2pEndpoint.RemoveBefore;

    /// <summary>Whether the request changes what a repository stores.</summary>
    public static bool IsWrite(this P2pEndpoint endpoint) => endpoint is P2pEndpoint.Put or P2pEndpoint.PutOffset;

    public static bool IsRemoval(this P2pEndpoint endpoint) => endpoint is P2pEndpoint.Remove or P2pEndpoint.RemoveBefore;
}
