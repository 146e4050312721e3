"""PEFT methods, one file each: LoRA, AdaLoRA, IA3, prefix tuning and prompt tuning (through ``get_peft_model``).

Of the optional hooks of :class:`~finegrain.methods.base.TrainedMethod`, AdaLoRA uses
``set_total_steps(n)`` (its schedule) and ``on_step(model, step)`` (its rank allocation reads the
gradients), prefix and prompt tuning ``check_against(max_length)`` (their tokens must fit), and
LoRA, AdaLoRA and IA3 ``merge(model)`` for export. Importing this package registers them.
"""

from finegrain.methods.peft import adalora, ia3, lora, prefix, prompt  # noqa: F401
