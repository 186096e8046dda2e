namespace AnnexEdge.Logging;

/// <summary>Names of the structured properties of the one log line written per request.</summary>
internal static class RequestLogProperties
{
    public const string Uuid = "Uuid";
    public const string Repository = "Repository";
    public const string Cluster = "Cluster";
    public const string Endpoint = "Endpoint";
    public const string Key = "Key";
    public const string Backend = "Backend";
    public const string BytesIn = "BytesIn";
    public const string BytesOut = "BytesOut";
    public const string User = "User";
    public const string RemoteIp = "RemoteIp";
}
