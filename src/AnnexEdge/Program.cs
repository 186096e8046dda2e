using AnnexEdge.Configuration;
using AnnexEdge.Hosting;
using AnnexEdge.Security;

// AnnexEdge [check-config] --config FILE [--urls URLS] [ASP.NET Core settings]
// AnnexEdge hash-password < password
if (args is [HashPasswordCommand.Name])
{
    return HashPasswordCommand.Run(Console.In, Console.Out, Console.Error);
}

var (configFile, rest) = EdgeConfiguration.TakeConfigArgument(args);
var checkOnly = rest.Length > 0 && rest[0] == "check-config";
if (checkOnly)
{
    rest = rest[1..];
}

AnnexEdgeOptions options;
try
{
    var configuration = new ConfigurationManager();
    configuration.AddJsonFile("appsettings.json", optional: true);
    configuration.AddEnvironmentVariables();
    configuration.AddCommandLine(rest);
    EdgeConfiguration.AddConfigFile(configuration, configFile, rest);
    options = EdgeConfiguration.Bind(configuration);
}
catch (Exception e) when (e is FileNotFoundException or InvalidDataException or FormatException or InvalidOperationException)
{
    Console.Error.WriteLine($"AnnexEdge: cannot read configuration: {e.Message}");
    return 2;
}

var errors = AnnexEdgeOptionsValidator.Errors(options);
foreach (var error in errors)
{
    Console.Error.WriteLine($"AnnexEdge: config error: {error}");
}

if (errors.Count > 0)
{
    return 2;
}

if (checkOnly)
{
    Console.WriteLine($"AnnexEdge: configuration is valid ({options.Repositories.Count} repositories)");
    return 0;
}

var app = EdgeApplication.Build(rest, configFile, options);
await app.RunAsync();
return 0;
