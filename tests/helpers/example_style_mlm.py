"""A stand-in for transformers' example scripts (run_mlm.py): it loads the model the way they do, and never imports
perceiver_hf. tests/test_run_script.py and docs/training.md run it through `python -m perceiver_hf.run_script`.

    python -m perceiver_hf.run_script tests/helpers/example_style_mlm.py --model_name_or_path FOLDER \
        --train_file TEXT --output_dir OUT --max_steps 2 ...

It parses its arguments with HfArgumentParser (its own dataclasses and TrainingArguments), loads AutoConfig,
AutoTokenizer and AutoModelForMaskedLM from --model_name_or_path, cuts the text into blocks of
min(1024, model_max_length) tokens (run_mlm's default), trains with DataCollatorForLanguageModeling and Trainer,
and prints one line "RESULT {json}" (the classes it got, the block size, steps and loss, its argv[0] and __name__).
"""

import json
import sys
from dataclasses import dataclass, field

from transformers import (
    AutoConfig,
    AutoModelForMaskedLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={"help": "a model folder"})


@dataclass
class DataTrainingArguments:
    train_file: str = field(metadata={"help": "a text file"})


def main():
    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, TrainingArguments))
    model_args, data_args, training_args = parser.parse_args_into_dataclasses()
    set_seed(training_args.seed)
    config = AutoConfig.from_pretrained(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path)
    model = AutoModelForMaskedLM.from_pretrained(model_args.model_name_or_path, config=config)
    text = open(data_args.train_file, encoding="utf-8").read()
    ids = tokenizer(text, return_special_tokens_mask=True)
    block_size = min(1024, tokenizer.model_max_length)
    starts = range(0, len(ids["input_ids"]) - block_size + 1, block_size)
    blocks = [{key: ids[key][i : i + block_size] for key in ids} for i in starts]
    collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=0.15)
    trainer = Trainer(model=model, args=training_args, train_dataset=blocks, data_collator=collator)
    result = trainer.train()
    print("RESULT " + json.dumps({"config": type(config).__name__, "tokenizer": type(tokenizer).__name__,
                                  "model": type(model).__name__, "block_size": block_size,
                                  "steps": result.global_step, "loss": result.training_loss,
                                  "argv0": sys.argv[0], "name": __name__}))


if __name__ == "__main__":
    main()
