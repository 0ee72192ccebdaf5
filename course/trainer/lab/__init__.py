"""Starting JupyterLab: the trainee runtime (kernel, settings, the Submit extension) and the trainer's Lab."""
