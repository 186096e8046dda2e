using AnnexEdge.Configuration;

namespace AnnexEdge.Hosting;

/// <summary>
/// Reads the configuration: the JSON file given with <c>--config</c>, then environment variables
/// (<c>AnnexEdge__...</c>) and command-line settings over it, so operators can override any setting.
/// </summary>
internal static class EdgeConfiguration
{
    /// <summary>Removes <c>--config FILE</c> (or <c>--config=FILE</c>) from the arguments and returns the file.</summary>
    public static (string? ConfigFile, string[] Remaining) TakeConfigArgument(string[] args)
    {
        string? file = null;
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Length)
            {
                file = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                file = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return (file, rest.ToArray());
    }

    public static void AddConfigFile(IConfigurationManager configuration, string? file, string[] args)
    {
        if (file is null)
        {
            return;
        }

        configuration.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        // The file must not hide the environment or the command line.
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(args);
    }

    /// <summary>
    /// Adds the config file (with the environment and <paramref name="args"/> over it) to <paramref name="configuration"/>,
    /// binds and validates the options: at start-up, by <c>check-config</c> and at each reload, with the same messages.
    /// </summary>
    /// <exception cref="EdgeConfigurationException">The configuration cannot be read or is not valid.</exception>
    public static AnnexEdgeOptions Load(IConfigurationManager configuration, string? file, string[] args)
    {
        AnnexEdgeOptions options;
        try
        {
            AddConfigFile(configuration, file, args);
            options = Bind(configuration);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or FormatException or InvalidOperationException or IOException)
        {
            throw new EdgeConfigurationException([$"cannot read configuration: {e.Message}"]);
        }

        Validate(options);
        return options;
    }

    /// <exception cref="EdgeConfigurationException">The options are not valid.</exception>
    public static void Validate(AnnexEdgeOptions options)
    {
        if (AnnexEdgeOptionsValidator.Errors(options) is { Count: > 0 } errors)
        {
            throw new EdgeConfigurationException(errors.Select(e => "config error: " + e).ToArray());
        }
    }

    public static AnnexEdgeOptions Bind(IConfiguration configuration)
    {
        var options = new AnnexEdgeOptions();
        configuration.GetSection(AnnexEdgeOptions.SectionName).Bind(options);
        return options;
    }
}

/// <summary>The configuration cannot be read or is not valid: each error is one line for the operator.</summary>
internal sealed class EdgeConfigurationException(IReadOnlyList<string> errors) : Exception(string.Join("\n", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Where the running configuration came from: the config file (null without one) and the host arguments over it.</summary>
internal sealed record ConfigSource(string? File, string[] Args);
