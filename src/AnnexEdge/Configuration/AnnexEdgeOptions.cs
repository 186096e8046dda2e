using AnnexEdge.Acme;

namespace AnnexEdge.Configuration;

/// <summary>The <c>AnnexEdge</c> configuration section. Names that the issues fix are a contract: never rename them.</summary>
internal sealed class AnnexEdgeOptions
{
    public const string SectionName = "AnnexEdge";

    /// <summary>The edge's own repository UUID (the gateway's annex.uuid); also the clientuuid of its health probes.</summary>
    public string? Uuid { get; set; }

    public List<RepositoryOptions> Repositories { get; set; } = [];

    /// <summary>
    /// Directories whose git-annex repositories (immediate subdirectories) the edge serves, found by scanning, with
    /// their annex API on the directory's own <c>git annex p2phttp --directory</c> servers (see docs/directories.md).
    /// </summary>
    public List<DirectoryOptions> Directories { get; set; } = [];

    /// <summary>Clusters: one UUID (made by <c>git annex initcluster</c>) standing for several node repositories.</summary>
    public List<ClusterOptions> Clusters { get; set; } = [];

    public HealthCheckOptions HealthChecks { get; set; } = new();

    public LockingOptions Locking { get; set; } = new();

    public ForwardingOptions Forwarding { get; set; } = new();

    /// <summary>Automatic HTTPS over ACME (section <c>AnnexEdge:Acme</c>; the class lives in AnnexEdge.Acme).</summary>
    public AcmeOptions Acme { get; set; } = new();

    /// <summary><c>text</c> (default) or <c>json</c> (compact JSON, one event per line) on standard output.</summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>Serve <c>/_annexedge/status</c> to non-loopback clients too (it names backends).</summary>
    public bool StatusAllowRemote { get; set; }

    /// <summary>Users who authenticate with HTTP Basic auth (see docs/security.md).</summary>
    public List<UserOptions> Users { get; set; } = [];

    /// <summary>
    /// What clients without credentials may do, by repository or cluster Name (<c>*</c> for the rest):
    /// <c>none</c>, <c>readonly</c>, <c>appendonly</c> or <c>full</c>. Missing means <c>none</c> everywhere.
    /// </summary>
    public Dictionary<string, string>? Anonymous { get; set; }

    /// <summary>Whether anonymous readonly/appendonly clients may lock content (false is p2phttp's <c>--unauth-nolocking</c>).</summary>
    public bool AnonymousLocking { get; set; } = true;

    /// <summary>Accept Basic credentials over plain HTTP (p2phttp's <c>--authenv-http</c>); only behind a trusted TLS terminator.</summary>
    public bool AllowBasicAuthOverHttp { get; set; }

    public LimitsOptions Limits { get; set; } = new();

    /// <summary>How the edge stops on SIGTERM (see docs/operations.md, "Graceful stop").</summary>
    public ShutdownOptions Shutdown { get; set; } = new();

    /// <summary>
    /// The edge's public base URL (<c>https://edge.example.org</c>), for the <c>annex.url</c> it gives git-annex
    /// clients in <c>/NAME/config</c>. Unset, the URL is taken from a request whose Host is one the edge knows as its
    /// own (an <c>Acme:Domains</c> entry or a listen address), and no URL is given otherwise.
    /// </summary>
    public string? PublicUrl { get; set; }

    /// <summary>Git over smart HTTP (<c>/NAME</c>, <c>/NAME.git</c>) for repositories and clusters with a git source.</summary>
    public GitOptions Git { get; set; } = new();

    /// <summary>Other gateways of the same clusters (other AnnexEdges, or git-annex p2phttp gateways): see docs/multisite.md.</summary>
    public List<PeerOptions> Peers { get; set; } = [];

    /// <summary>How routes to nodes behind peers are learned and aged (docs/multisite.md).</summary>
    public RoutingOptions Routing { get; set; } = new();

    /// <summary>These options with other repositories (the configured ones and those found in <see cref="Directories"/>).</summary>
    public AnnexEdgeOptions WithRepositories(List<RepositoryOptions> repositories)
    {
        var copy = (AnnexEdgeOptions)MemberwiseClone();
        copy.Repositories = repositories;
        return copy;
    }
}

/// <summary>
/// Another gateway of the same clusters: an AnnexEdge (which advertises the nodes it reaches) or a git-annex p2phttp
/// gateway (which advertises nothing: its <see cref="Nodes"/> are configured here).
/// </summary>
internal sealed class PeerOptions
{
    public string Name { get; set; } = "";

    /// <summary>The peer's gateway UUID (its <c>AnnexEdge:Uuid</c>, or the git-annex gateway repository's annex.uuid).</summary>
    public string Uuid { get; set; } = "";

    /// <summary>Base URLs of the peer; the edge appends <c>/git-annex/{uuid}/...</c> (and <c>/_annexedge/peer/routes</c>).</summary>
    public List<string> Backends { get; set; } = [];

    /// <summary>Cost of the link to the peer, added to every cost the peer advertises; default 100.</summary>
    public double LinkCost { get; set; } = 100;

    /// <summary>Names of this edge's clusters that the peer also serves.</summary>
    public List<string> Clusters { get; set; } = [];

    /// <summary>
    /// Node UUIDs behind a peer that advertises nothing (a git-annex gateway), reached at <see cref="LinkCost"/> and one
    /// hop. Unset: the peer is an AnnexEdge and its routes are fetched from it.
    /// </summary>
    public List<string>? Nodes { get; set; }

    /// <summary>
    /// Locks this edge holds at once through the peer, for its clients, on the nodes it reaches there (default 8); 0
    /// answers every lockcontent for such a node locked:false. The peer keeps its own budgets per node besides: there
    /// this edge's <see cref="BackendUser"/> is one client, held to the peer's <c>MaxLocksPerClient</c>.
    /// </summary>
    public int MaxLocks { get; set; } = 8;

    /// <summary>User the edge authenticates as to the peer (it needs <c>full</c> access to the shared clusters there).</summary>
    public string? BackendUser { get; set; }

    public string? BackendPassword { get; set; }
}

/// <summary>Distance-vector routing between peers.</summary>
internal sealed class RoutingOptions
{
    /// <summary>Time between fetches of each AnnexEdge peer's routes and probes of each git-annex gateway peer (also at once after a local node's health changes).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Routes longer than this many gateway hops are dropped, which bounds count-to-infinity after a withdrawal.</summary>
    public int MaxHops { get; set; } = 16;

    /// <summary>Consecutive failed fetches of a peer's routes (or probes of a git-annex gateway peer) after which its link counts as down and its routes are withdrawn.</summary>
    public int LinkFailures { get; set; } = 3;

    /// <summary>A peer's advertisement older than this (no successful fetch since) is withdrawn whatever the failure count.</summary>
    public TimeSpan MaxRouteAge { get; set; } = TimeSpan.FromMinutes(2);
}


/// <summary>A directory of git-annex repositories, each served as a repository named by its subdirectory.</summary>
internal sealed class DirectoryOptions
{
    /// <summary>Absolute path of the directory; each immediate subdirectory holding a git-annex repository is served.</summary>
    public string Path { get; set; } = "";

    /// <summary>Base URLs of the <c>git annex p2phttp --directory Path</c> servers the operator runs for it.</summary>
    public List<string> Backends { get; set; } = [];

    /// <summary>
    /// Whether the edge runs the directory's <c>git annex p2phttp --directory</c> itself, on loopback, instead of
    /// <see cref="Backends"/> (default false).
    /// </summary>
    public bool Manage { get; set; }

    /// <summary>The <c>--jobs</c> of those servers (default 4): sets each repository's lock budget as for a repository.</summary>
    public int Jobs { get; set; } = 4;

    /// <summary>
    /// With <see cref="Manage"/>: how long a replaced p2phttp may go on serving the requests it has in flight before it
    /// is stopped anyway (default 1 h: a large transfer over a slow link).
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the directory is scanned again (default 5 s), besides when it changes.</summary>
    public TimeSpan RescanInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>How the edge serves git repositories over smart HTTP.</summary>
internal sealed class GitOptions
{
    /// <summary>
    /// Whether <c>appendonly</c> access may push (default false: a push may rewrite or delete branches, which is more
    /// than appending, so it needs <c>full</c>).
    /// </summary>
    public bool AppendOnlyMayPush { get; set; }

    /// <summary>
    /// Most <c>git http-backend</c> programs the edge runs at once (default twice the processors): each clone or push
    /// is a git process that can keep a core busy, so without a bound a burst of clones takes the machine.
    /// </summary>
    public int MaxBackendProcesses { get; set; } = 2 * Environment.ProcessorCount;

    /// <summary>How long a git request waits for a free <see cref="MaxBackendProcesses"/> slot before it gets 503.</summary>
    public TimeSpan BackendQueueTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>A user of the edge, authenticated with HTTP Basic auth.</summary>
internal sealed class UserOptions
{
    public string Name { get; set; } = "";

    /// <summary>As printed by <c>AnnexEdge hash-password</c>: <c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c>.</summary>
    public string PasswordHash { get; set; } = "";

    /// <summary>Repository or cluster Name (or <c>*</c>) to <c>none</c>, <c>readonly</c>, <c>appendonly</c> or <c>full</c>.</summary>
    public Dictionary<string, string> Access { get; set; } = [];

    /// <summary>
    /// What the user may see of the edge itself: <c>metrics</c> opens <c>/metrics</c> and the status page
    /// <c>/_annexedge/</c> from any address. None by default; independent of <see cref="Access"/>.
    /// </summary>
    public List<string> Roles { get; set; } = [];

    /// <summary>The role that may read metrics and the status page.</summary>
    public const string MetricsRole = "metrics";

    public static readonly IReadOnlyList<string> KnownRoles = [MetricsRole];
}

/// <summary>Connection, request and login limits that keep hostile or broken clients from starving the rest.</summary>
internal sealed class LimitsOptions
{
    /// <summary>Open connections the edge accepts at once (Kestrel MaxConcurrentConnections); 0 means unlimited.</summary>
    public long MaxConcurrentConnections { get; set; } = 10_000;

    public int MaxRequestHeadersTotalSize { get; set; } = 32 * 1024;

    public int MaxRequestHeaderCount { get; set; } = 64;

    public int MaxRequestLineSize { get; set; } = 8 * 1024;

    /// <summary>A client must send all request headers within this time (slow-loris protection).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(130);

    /// <summary>Requests per second each client address may make on average; 0 turns the limit off.</summary>
    public int RequestsPerSecondPerIp { get; set; } = 500;

    /// <summary>Requests a client address may make in a burst above the average.</summary>
    public int RequestBurstPerIp { get; set; } = 2000;

    /// <summary>Requests in flight at once per client address (keeplocked included); 0 turns the limit off.</summary>
    public int ConcurrentRequestsPerIp { get; set; } = 256;

    /// <summary>
    /// Failed logins per minute for one user name from one client address; beyond it that user name's logins from that
    /// address are refused with 429 for the rest of the minute. An attempt counts from when its check starts.
    /// </summary>
    public int FailedLoginsPerMinutePerIp { get; set; } = 20;

    /// <summary>
    /// Password checks per minute from one client address that did not succeed (failed or still running), whatever the
    /// user names; beyond it the address's logins that need a check get 429, while remembered credentials still pass.
    /// </summary>
    public int FailedPasswordChecksPerMinutePerIp { get; set; } = 100;

    /// <summary>Password checks one client address may have running or waiting at once; more get 429 unchecked.</summary>
    public int PasswordChecksPerIp { get; set; } = 2;

    /// <summary>Password checks running at once across all addresses; 0 means one per processor core.</summary>
    public int ConcurrentPasswordChecks { get; set; }

    /// <summary>How long a verified password is remembered, so a copy of many files does not pay PBKDF2 per request.</summary>
    public TimeSpan CredentialCacheDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Strict-Transport-Security max-age sent on HTTPS answers; zero sends none.</summary>
    public TimeSpan HstsMaxAge { get; set; } = TimeSpan.FromDays(365);

    /// <summary>
    /// Open connections per client address (an IPv6 client by its /64); the excess is closed at once. 0 turns the
    /// limit off. A trusted proxy's own connections are not counted: they carry many clients.
    /// </summary>
    public int MaxConnectionsPerIp { get; set; } = 512;

    /// <summary>
    /// Addresses and CIDR networks (<c>10.0.0.0/8</c>, <c>2001:db8::/32</c>) of proxies whose <c>X-Forwarded-For</c>,
    /// <c>X-Forwarded-Proto</c> and PROXY protocol headers give the client's real address. Nobody else's are believed.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>
    /// Every connection from a <see cref="TrustedProxies"/> address must begin with a PROXY protocol header (v1 or
    /// v2), on every listener; a PROXY header from any other address closes the connection.
    /// </summary>
    public bool ProxyProtocol { get; set; }

    /// <summary>
    /// OpenSSL frees an HTTPS connection's record buffers whenever they are empty instead of keeping them for the
    /// connection's life, so thousands of idle keep-alive clients cost less memory; each busy read or write then
    /// allocates its buffer again (bench/README.md, "Idle scale").
    /// </summary>
    public bool ReleaseIdleTlsBuffers { get; set; } = true;

    /// <summary>
    /// Once the edge goes quiet after a busy spell, it compacts its heap and gives the free memory back to the system
    /// (one blocking collection per spell); otherwise it keeps what the spell left until it allocates again
    /// (bench/README.md, "Idle scale").
    /// </summary>
    public bool ReleaseIdleMemory { get; set; } = true;
}

/// <summary>A git-annex repository served by one or more <c>git annex p2phttp</c> backends (replicas).</summary>
internal sealed class RepositoryOptions
{
    public string Name { get; set; } = "";

    /// <summary>The repository's annex.uuid.</summary>
    public string Uuid { get; set; } = "";

    /// <summary>Base URLs of p2phttp servers for this repository; the edge appends <c>/git-annex/{uuid}/...</c>.</summary>
    public List<string> Backends { get; set; } = [];

    /// <summary>YARP load balancing policy between replicas; default <c>PowerOfTwoChoices</c>.</summary>
    public string? LoadBalancing { get; set; }

    /// <summary>
    /// The <c>--jobs</c> each backend's <c>git annex p2phttp</c> runs with (default 4). Every lock a backend grants
    /// pins two of its workers until it is released, so this sets how many locks a backend can hold and still serve.
    /// </summary>
    public int Jobs { get; set; } = 4;

    /// <summary>
    /// Most locks the edge lets each backend of this repository hold at once; default <c>Jobs / 2 - 1</c>, which leaves
    /// two workers free (measured on git-annex 10.20250416: <c>Jobs / 2</c> held locks leave a node answering nothing).
    /// </summary>
    public int? MaxLocks { get; set; }

    /// <summary>Cost of reaching this repository from the edge, as git-annex costs go (lower is preferred); default 100.</summary>
    public double Cost { get; set; } = 100;

    /// <summary>User the edge authenticates as to the backends (p2phttp <c>--authenv</c>); with <see cref="BackendPassword"/>.</summary>
    public string? BackendUser { get; set; }

    public string? BackendPassword { get; set; }

    /// <summary>Pass the client's own Authorization header on to the backends (never done otherwise).</summary>
    public bool ForwardClientAuthorization { get; set; }

    /// <summary>
    /// A git repository on the edge's machine served at <c>/NAME</c> by <c>git http-backend</c>; or else
    /// <see cref="GitUpstream"/>. Neither: the edge serves no git for it.
    /// </summary>
    public string? GitDirectory { get; set; }

    /// <summary>An http(s) git server URL (a forge's repository URL) that git requests to <c>/NAME</c> are forwarded to.</summary>
    public string? GitUpstream { get; set; }

    /// <summary>
    /// Set for a repository found in one of <c>Directories</c> (by <c>RepositoryDirectories.Merge</c>), never from the
    /// configuration (not public, so not bound): its backends are shared, and probed once per address.
    /// </summary>
    internal bool FoundInDirectory { get; init; }
}

/// <summary>A cluster: the edge is its gateway and serves its UUID by fanning requests out to its nodes.</summary>
internal sealed class ClusterOptions
{
    public string Name { get; set; } = "";

    /// <summary>The cluster UUID as <c>git annex initcluster</c> made it (version 8, starting with "ac").</summary>
    public string Uuid { get; set; } = "";

    /// <summary>Names of the repositories (from <c>Repositories</c>) that are the cluster's nodes.</summary>
    public List<string> Nodes { get; set; } = [];

    /// <summary>How many nodes an upload is stored on (default: all); chosen by rendezvous hashing of the key over live nodes.</summary>
    public int? Copies { get; set; }

    /// <summary>
    /// Margin subtracted from a <c>remove-before</c> deadline when it is translated into each node's clock, to cover
    /// clock drift and request latency: a removal never happens later than the client intended.
    /// </summary>
    public TimeSpan TimestampSkewMargin { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The gateway repository (the one that records the cluster, whose annex.uuid is <c>AnnexEdge:Uuid</c>) served
    /// at <c>/NAME</c> by <c>git http-backend</c>; or else <see cref="GitUpstream"/>.
    /// </summary>
    public string? GitDirectory { get; set; }

    /// <summary>An http(s) git server URL of the gateway repository that git requests to <c>/NAME</c> are forwarded to.</summary>
    public string? GitUpstream { get; set; }
}

internal sealed class HealthCheckOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Time between active probes (a <c>gettimestamp</c> to every backend).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A probe not answered in this time counts as a failure (a wedged node accepts connections but answers nothing).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failed probes before a backend leaves rotation.</summary>
    public int FailureThreshold { get; set; } = 2;

    /// <summary>How long a backend whose connection failed stays out of rotation before it is tried again.</summary>
    public TimeSpan ReactivationPeriod { get; set; } = TimeSpan.FromSeconds(30);
}

internal sealed class LockingOptions
{
    /// <summary>
    /// Base64 key (32 bytes or more) that signs the lock ids handed to clients. Edge processes behind one name
    /// must share it so a <c>keeplocked</c> reaching any of them finds the backend that granted the lock.
    /// When unset, a random key is made at start-up (valid for this process only).
    /// </summary>
    public string? TokenKey { get; set; }

    /// <summary>
    /// Most locks one client may hold through this edge at once, over all backends. A client is its authenticated
    /// user, or else its address (an IPv6 address by its /64); never the <c>clientuuid</c> it chooses itself.
    /// </summary>
    public int MaxLocksPerClient { get; set; } = 4;

    /// <summary>
    /// Largest share of one backend's lock slots (<c>MaxLocks</c>) one client may hold, between 0 and 1; default 0.5,
    /// so at least half of them stay for others. Rounded down, but never below one slot.
    /// </summary>
    public double MaxShareOfSlots { get; set; } = 0.5;

    /// <summary>
    /// Lock slots of each backend that only authenticated users may take (default 1), so anonymous clients can never
    /// hold them all. Ignored when no <c>Users</c> are configured; a backend with no more slots than this grants no
    /// anonymous locks.
    /// </summary>
    public int ReservedForUsers { get; set; } = 1;

    /// <summary>How long a granted lock lasts without <c>keeplocked</c>: p2phttp's 10 minutes. Only tests change it.</summary>
    public TimeSpan LockLifetime { get; set; } = TimeSpan.FromMinutes(10);
}

internal sealed class ShutdownOptions
{
    /// <summary>A stop that may take longer than this is a hung stop to an operator or a supervisor.</summary>
    public static readonly TimeSpan MaxGracePeriod = TimeSpan.FromHours(1);

    /// <summary>
    /// After SIGTERM, how long requests in flight (transfers above all) have to finish; what is left then is cut, so
    /// its clients see an error. A second SIGTERM cuts at once. systemd's TimeoutStopSec must be longer.
    /// </summary>
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromSeconds(30);
}

internal sealed class ForwardingOptions
{
    /// <summary>A backend that sends or receives nothing for this long is cut (not applied to keeplocked).</summary>
    public TimeSpan ActivityTimeout { get; set; } = TimeSpan.FromMinutes(2);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A download whose backend sends no byte for this long, midway through the body, has stalled: a repository's
    /// backend is asked again from the byte reached (with <see cref="DownloadTransport"/> Edge), a cluster's download
    /// goes on from another node or that node again. git-annex 10.20250416's p2phttp now and then stops a GET a few
    /// KiB short of its end for good. Takes effect only when shorter than <see cref="ActivityTimeout"/>, which cuts
    /// the client's download first otherwise.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long the cluster gateway waits for a node's JSON answer (checkpresent, remove, putoffset, gettimestamp).
    /// A node that holds a lock on a key does not answer a remove of it at all; the gateway then counts that node as
    /// not removed instead of keeping the client waiting.
    /// </summary>
    public TimeSpan NodeAnswerTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Connections per backend; 0 means unlimited. Needs <see cref="DownloadTransport"/> SocketsHttpHandler.</summary>
    public int MaxConnectionsPerBackend { get; set; }

    /// <summary>
    /// What carries content downloads to a backend: <c>Edge</c> (the edge's own batched connections, the default) or
    /// <c>SocketsHttpHandler</c> (YARP's client, as for every other request); see <c>Forwarding/Download/DownloadTransport.cs</c>.
    /// </summary>
    public string DownloadTransport { get; set; } = Forwarding.Download.DownloadTransport.Edge;

    /// <summary>Accept any TLS certificate from https backends (only for private test setups).</summary>
    public bool DangerousAcceptAnyBackendCertificate { get; set; }
}
