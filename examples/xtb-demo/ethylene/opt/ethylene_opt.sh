#!/bin/bash
#SBATCH --job-name=ethylene_opt
#SBATCH --ntasks=1
#SBATCH --time=10
# xTB geometry optimisation; ccbatch judges ethylene_opt.out.
export OMP_NUM_THREADS=1
xtb start.xyz --opt > ethylene_opt.out 2>&1
